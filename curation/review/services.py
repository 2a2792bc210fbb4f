"""Review verbs: race-free claiming with leases, submitting, undo and skipping.

Queues and their questions are made in queues.py, curators' decisions (adjudication, bulk)
in decisions.py, and turn flags and truncation are checked in turns.py; the first two are
imported here for the callers that reach every review verb through this module.

Claiming is one transaction: expired leases are released, one candidate is locked with
SELECT ... FOR UPDATE SKIP LOCKED (so concurrent annotators never wait on each other),
checked against the overlap and this annotator's history, and an Assignment with a lease
is created. Partial unique indexes hold the invariants even if this code were wrong.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from curation.dedup.services import mark_sample_for_reembedding
from curation.projects import audit
from curation.projects.services import ServiceError
from curation.review import questions as questions_module
from curation.review import steps as steps_module
from curation.review import tool_calls as tool_calls_module
from curation.review import turns as turns_module

# Made in decisions.py and queues.py; callers reach every review verb through this module.
from curation.review.decisions import DECISIONS, adjudicate, bulk_decide  # noqa: F401
from curation.review.labels import checked_label
from curation.review.models import (
    Assignment,
    AssignmentStatus,
    QueueItem,
    QueueOrder,
    Review,
    ReviewQueue,
    SampleRevision,
)
from curation.review.queues import (  # noqa: F401
    SAMPLE_FILTERS,
    add_question,
    create_queue,
    filtered_samples,
)
from curation.samples.models import Sample, SampleStatus


def release_expired(queue_id: int | None = None) -> int:
    """Give the slots of expired leases back. Safe to run concurrently (row locks)."""
    now = timezone.now()
    with transaction.atomic():
        expired = Assignment.objects.select_for_update(skip_locked=True).filter(
            status=AssignmentStatus.OPEN, lease_expires_at__lt=now
        )
        if queue_id is not None:
            expired = expired.filter(item__queue_id=queue_id)
        ids = list(expired.values_list("id", "item_id"))
        if not ids:
            return 0
        Assignment.objects.filter(pk__in=[a for a, _ in ids]).update(
            status=AssignmentStatus.EXPIRED
        )
        for item_id, n in Counter(i for _, i in ids).items():
            QueueItem.objects.filter(pk=item_id).update(in_flight=F("in_flight") - n)
    return len(ids)


# One statement (atomic on its own): pick the first claimable item in the queue's order,
# skipping rows other claimers hold, take a slot on it and create the leased assignment.
_CLAIM_SQL = """
    WITH picked AS (
        SELECT qi.id FROM review_queueitem qi
        WHERE qi.queue_id = %(queue)s
          AND NOT qi.settled
          AND qi.reviews_done + qi.in_flight < %(overlap)s
          AND qi.final_decision = ''
          AND NOT EXISTS (
              SELECT 1 FROM review_assignment a
              WHERE a.item_id = qi.id AND a.annotator_id = %(annotator)s
                AND a.status IN ('open', 'submitted', 'skipped')
          )
          AND NOT EXISTS (
              -- a curator rejected it as a duplicate (dedup clusters): nobody needs to see it
              SELECT 1 FROM runs_sample s
              WHERE s.id = qi.sample_id AND s.status = 'rejected'
                AND s.dup_status IN ('near_duplicate', 'exact_duplicate')
          )
        ORDER BY qi.sort_key, qi.id
        LIMIT 1
        FOR UPDATE OF qi SKIP LOCKED
    ), slot AS (
        UPDATE review_queueitem SET in_flight = in_flight + 1
        FROM picked WHERE review_queueitem.id = picked.id
        RETURNING review_queueitem.id
    )
    INSERT INTO review_assignment
        (item_id, annotator_id, status, lease_expires_at, created_at, submitted_at)
    SELECT slot.id, %(annotator)s, 'open', %(expires)s, %(now)s, NULL FROM slot
    RETURNING id
"""


def claim_next(actor: Any, queue: ReviewQueue) -> Assignment | None:
    """The annotator's open assignment in this queue, or a newly claimed item, or None."""
    if not queue.is_open:
        raise ServiceError("This queue is closed.")
    now = timezone.now()
    current = (
        Assignment.objects.select_related("item__sample")
        .filter(
            item__queue=queue,
            annotator=actor,
            status=AssignmentStatus.OPEN,
            lease_expires_at__gt=now,
        )
        .order_by("created_at")
        .first()
    )
    if current is not None:
        return current
    assignment = _claim(actor, queue)
    # Expired leases are given back here only when nothing else is free (and by the periodic
    # sweep, curation.review.tasks): the common claim stays one short transaction.
    if assignment is None and release_expired(queue.pk):
        assignment = _claim(actor, queue)
    return assignment


def _claim(actor: Any, queue: ReviewQueue) -> Assignment | None:
    now = timezone.now()
    params = {
        "queue": queue.pk,
        "overlap": queue.overlap,
        "annotator": actor.pk,
        "now": now,
        "expires": now + timedelta(seconds=queue.lease_seconds),
    }
    with connection.cursor() as cur:
        cur.execute(_CLAIM_SQL, params)
        row = cur.fetchone()
    if row is None:
        return None
    return Assignment.objects.select_related("item__sample").get(pk=row[0])


def submit_review(
    actor: Any,
    assignment: Assignment,
    *,
    decision: str = "",
    rating: int | None = None,
    labels: list[str] | None = None,
    ranking: list[Any] | None = None,
    messages: list[dict[str, Any]] | None = None,
    label: str | None = None,
    comment: str = "",
    answers: dict[str, Any] | None = None,
    time_spent_ms: int = 0,
    turns: dict[str, Any] | None = None,
    truncate_after: int | None = None,
    tool_calls: dict[str, Any] | None = None,
    first_wrong_step: int | None = None,
) -> Review:
    """`messages`, `label` (classification) and `truncate_after` (conversations: keep the
    turns up to that one) are the reviewer's edits: a change becomes a revision, which undo
    takes back. A label must be in the sample's label space when one is known
    (curation.review.labels); `turns` marks single turns (curation.review.turns).
    `tool_calls` edits call arguments by message index and call id; every changed call
    must fit its tool's schema (curation.review.tool_calls). `first_wrong_step` marks an
    agent trajectory's first wrong step (curation.review.steps)."""
    if decision and decision not in DECISIONS:
        raise ServiceError("The decision must be accept or reject.")
    with transaction.atomic():
        # One query locks the assignment, its item and its sample.
        a = (
            Assignment.objects.select_for_update(of=("self", "item", "item__sample"))
            .select_related("item__queue", "item__sample")
            .get(pk=assignment.pk)
        )
        if a.annotator_id != actor.pk:
            raise ServiceError("This assignment belongs to someone else.")
        if a.status != AssignmentStatus.OPEN:
            raise ServiceError(f"This assignment is {a.status}; claim the next item.")
        item, sample = a.item, a.item.sample
        answers = questions_module.check_answers(
            a.item.queue.questions, rating=rating, labels=labels or [], answers=answers or {}
        )
        new_label = checked_label(sample, label)
        if tool_calls:
            base = messages if messages is not None else sample.messages
            messages = tool_calls_module.with_arguments(base, tool_calls)
        tool_calls_module.checked_edits(sample, messages)
        reviewed = messages if messages is not None else sample.messages
        marks = turns_module.checked_marks(sample, turns, reviewed)
        wrong = steps_module.checked_first_wrong_step(
            sample.kind, sample.extra, reviewed, first_wrong_step
        )
        kept = turns_module.truncated(sample, reviewed, truncate_after)
        cut = len(reviewed) - len(kept) if kept is not None else 0
        messages = kept if cut else messages
        new_messages = messages is not None and messages != sample.messages
        edited = new_messages or new_label is not None
        review = Review.objects.create(
            item=item,
            assignment=a,
            annotator=actor,
            decision=decision,
            rating=rating,
            labels=labels or [],
            ranking=ranking,
            comment=comment,
            answers=answers,
            turns=marks,
            first_wrong_step=wrong,
            edited=edited,
            time_spent_ms=max(0, min(time_spent_ms, 24 * 3600 * 1000)),
        )
        label_before = sample.label
        if edited:
            new = messages if new_messages else None
            _revise(actor, sample, new, new_label, review, truncate_after if cut else None)
        a.status = AssignmentStatus.SUBMITTED
        a.submitted_at = timezone.now()
        a.save(update_fields=["status", "submitted_at"])
        item.in_flight = max(0, item.in_flight - 1)
        item.reviews_done += 1
        _settle(item, sample, a.item.queue)
        audit.record(
            actor,
            "review.submit",
            review,
            project=a.item.queue.project_id,
            after={
                "sample": sample.pk,
                "decision": decision,
                "rating": rating,
                "edited": edited,
            }
            | ({"label_before": label_before, "label": new_label} if new_label else {})
            | turns_module.audit_fields(marks, truncate_after, cut)
            | ({"first_wrong_step": wrong} if wrong is not None else {}),
        )
    return review


def _revise(
    actor: Any,
    sample: Sample,
    messages: list[dict[str, Any]] | None,
    label: str | None,
    review: Review,
    truncated_after: int | None = None,
) -> None:
    """One revision for a review's edits: new messages, a new label, or both (None: kept)."""
    last = sample.revisions.order_by("-number").first()
    SampleRevision.objects.create(
        sample=sample,
        number=(last.number + 1) if last else 1,
        messages_before=sample.messages,
        messages_after=sample.messages if messages is None else messages,
        label_before=None if label is None else sample.label,
        label_after=label,
        truncated_after=truncated_after,
        author=actor,
        review=review,
    )
    if messages is not None:
        sample.messages = messages
    if label is not None:
        sample.label = label
    sample.save(update_fields=["messages", "label", "updated_at"])
    mark_sample_for_reembedding(sample.pk)  # on commit: a new embedding, a new dedup check


def _settle(item: QueueItem, sample: Sample, queue: ReviewQueue) -> None:
    """Update the item's disagreement and, once it has all its reviews, the sample's status."""
    decisions = [d for d in item.reviews.values_list("decision", flat=True) if d]
    counts = Counter(decisions)
    top = counts.most_common(1)[0][1] if counts else 0
    item.disagreement = 1 - top / len(decisions) if decisions else 0.0
    if queue.order == QueueOrder.MOST_DISAGREEMENT:
        item.sort_key = -item.disagreement
    item.settled = bool(item.final_decision) or item.reviews_done >= queue.overlap
    item.save(update_fields=["in_flight", "reviews_done", "disagreement", "sort_key", "settled"])
    if item.final_decision or item.reviews_done < queue.overlap or not decisions:
        return
    winners = [d for d, n in counts.items() if n == top]
    status = (
        SampleStatus.NEEDS_REVIEW
        if len(winners) > 1
        else SampleStatus.ACCEPTED
        if winners[0] == "accept"
        else SampleStatus.REJECTED
    )
    Sample.objects.filter(pk=sample.pk).update(status=status, auto_accepted=False)


def undo_last(actor: Any, queue: ReviewQueue) -> Assignment:
    """Take back the annotator's last review in this queue: the item is theirs to redo."""
    with transaction.atomic():
        review = (
            Review.objects.select_for_update()
            .filter(item__queue=queue, annotator=actor)
            .order_by("-created_at", "-id")
            .first()
        )
        if review is None or review.assignment is None:
            raise ServiceError("There is nothing of yours to undo in this queue.")
        item = QueueItem.objects.select_for_update().get(pk=review.item_id)
        if item.final_decision:
            raise ServiceError("A curator has adjudicated this item; it can no longer be undone.")
        sample = Sample.objects.select_for_update().get(pk=item.sample_id)
        before = {"decision": review.decision, "rating": review.rating, "edited": review.edited}
        if review.first_wrong_step is not None:
            before["first_wrong_step"] = review.first_wrong_step
        for revision in review.revisions.order_by("-number"):
            sample.messages = revision.messages_before  # put the text back as it was
            if revision.label_before is not None:
                sample.label = revision.label_before  # and the label
            revision.delete()
        sample.save(update_fields=["messages", "label", "updated_at"])
        if review.edited:
            mark_sample_for_reembedding(sample.pk)
        assignment = review.assignment
        review.delete()
        assignment.status = AssignmentStatus.OPEN
        assignment.submitted_at = None
        assignment.lease_expires_at = timezone.now() + timedelta(seconds=queue.lease_seconds)
        assignment.save(update_fields=["status", "submitted_at", "lease_expires_at"])
        item.reviews_done = max(0, item.reviews_done - 1)
        item.in_flight += 1
        _settle(item, sample, queue)
        if item.reviews_done < queue.overlap and sample.status != SampleStatus.PENDING:
            Sample.objects.filter(pk=sample.pk).update(status=SampleStatus.PENDING)
        audit.record(
            actor,
            "review.undo",
            assignment,
            project=queue.project_id,
            before=before,
            after={"sample": sample.pk},
        )
    return Assignment.objects.select_related("item__sample").get(pk=assignment.pk)


def skip(actor: Any, assignment: Assignment) -> None:
    """Pass on an item: its slot goes back, and it is not offered to this annotator again."""
    with transaction.atomic():
        a = (
            Assignment.objects.select_for_update()
            .select_related("item__queue")
            .get(pk=assignment.pk)
        )
        if a.annotator_id != actor.pk or a.status != AssignmentStatus.OPEN:
            raise ServiceError("Only your open assignment can be skipped.")
        a.status = AssignmentStatus.SKIPPED
        a.save(update_fields=["status"])
        QueueItem.objects.filter(pk=a.item_id).update(in_flight=F("in_flight") - 1)
        audit.record(
            actor, "review.skip", a, project=a.item.queue.project_id, after={"item": a.item_id}
        )


def release(actor: Any, assignment: Assignment) -> None:
    """Hand an unstarted item back (e.g. when undo brings the previous one back)."""
    with transaction.atomic():
        updated = Assignment.objects.filter(
            pk=assignment.pk, annotator=actor, status=AssignmentStatus.OPEN
        ).update(status=AssignmentStatus.EXPIRED)
        if updated:
            QueueItem.objects.filter(pk=assignment.item_id).update(in_flight=F("in_flight") - 1)
