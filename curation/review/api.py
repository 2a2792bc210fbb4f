from __future__ import annotations

from typing import Any

from django.db.models import Sum
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.review import services
from curation.review.access import own_assignment
from curation.review.calibration import JUDGE_ACCEPTS_AT, judge_vs_human
from curation.review.models import Assignment, ReviewQueue
from curation.review.schemas import (
    AssignmentOut,
    QuestionIn,
    QueueIn,
    QueueOut,
    ReviewOut,
    SubmitIn,
)

router = Router(tags=["review"])


def queue_agreement(queue: ReviewQueue) -> dict[str, Any]:
    """Percent agreement, Cohen's kappa (exactly two annotators) and Krippendorff's alpha."""
    from curation.review.agreement import cohens_kappa, krippendorff_alpha, percent_agreement
    from curation.review.models import Review

    decisions: dict[int, dict[int, str]] = {}
    for item_id, annotator_id, decision in (
        Review.objects.filter(item__queue=queue)
        .exclude(decision="")
        .values_list("item_id", "annotator_id", "decision")
    ):
        decisions.setdefault(item_id, {})[annotator_id] = decision
    annotators = sorted({a for d in decisions.values() for a in d})
    kappa = None
    if len(annotators) == 2:
        a, b = annotators
        pairs = [(d[a], d[b]) for d in decisions.values() if a in d and b in d]
        kappa = cohens_kappa(pairs)
    return {
        "items_with_two_or_more": sum(1 for d in decisions.values() if len(d) >= 2),
        "annotators": len(annotators),
        "percent_agreement": percent_agreement(decisions),
        "cohens_kappa": kappa,
        "krippendorff_alpha": krippendorff_alpha(decisions) if decisions else None,
    }


def annotator_stats(queue: ReviewQueue) -> list[dict[str, Any]]:
    """Per annotator: items, median time, agreement with the (leave-one-out) majority and
    with the AI judge."""
    import statistics

    from curation.review.agreement import agreement_with, majority_labels
    from curation.review.models import Review

    rows = list(
        Review.objects.filter(item__queue=queue).values_list(
            "item_id",
            "annotator_id",
            "annotator__username",
            "decision",
            "time_spent_ms",
            "item__sample__judge_score",
        )
    )
    decisions: dict[int, dict[int, str]] = {}
    judge: dict[int, str] = {}
    for item_id, annotator_id, _, decision, _, score in rows:
        if decision:
            decisions.setdefault(item_id, {})[annotator_id] = decision
        if score is not None:
            judge[item_id] = "accept" if score >= JUDGE_ACCEPTS_AT else "reject"
    out = []
    for annotator_id in sorted({r[1] for r in rows}):
        mine = [r for r in rows if r[1] == annotator_id]
        own = {r[0]: r[3] for r in mine if r[3]}
        out.append(
            {
                "annotator": mine[0][2],
                "items": len(mine),
                "median_time_ms": statistics.median(r[4] for r in mine),
                "agreement_with_majority": agreement_with(
                    majority_labels(decisions, excluding=annotator_id), own
                ),
                "agreement_with_judge": agreement_with(judge, own),
            }
        )
    return out


def queue_summary(queue: ReviewQueue) -> dict[str, Any]:
    items = queue.items.aggregate(done=Sum("reviews_done"), flight=Sum("in_flight"))
    count = queue.items.count()
    needed = count * queue.overlap
    done = items["done"] or 0
    return {
        "id": queue.pk,
        "project_id": queue.project_id,
        "name": queue.name,
        "overlap": queue.overlap,
        "order": queue.order,
        "guidelines": queue.guidelines,
        "questions": queue.questions,
        "items": count,
        "reviews_done": done,
        "reviews_needed": needed,
        "in_flight": items["flight"] or 0,
        "progress": done / needed if needed else 0.0,
        "agreement": queue_agreement(queue),
        "annotators": annotator_stats(queue),
    }


def assignment_out(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "queue_id": a.item.queue_id,
        "lease_expires_at": a.lease_expires_at,
        "sample": a.item.sample,
    }


@router.post("/projects/{project_id}/queues", response={201: QueueOut})
def create_queue(request: HttpRequest, project_id: int, payload: QueueIn) -> Status[dict[str, Any]]:
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        queue = services.create_queue(request.user, project, **payload.dict())
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(201, queue_summary(queue))


@router.get("/queues/{queue_id}/judge-vs-human", response=list[dict[str, Any]])
def get_judge_vs_human(request: HttpRequest, queue_id: int) -> list[dict[str, Any]]:
    """Per rubric: how the AI judge's scores line up with the people's decisions."""
    return judge_vs_human(object_for(request.user, ReviewQueue.objects.all(), queue_id))


@router.get("/queues/{queue_id}", response=QueueOut)
def get_queue(request: HttpRequest, queue_id: int) -> dict[str, Any]:
    return queue_summary(object_for(request.user, ReviewQueue.objects.all(), queue_id))


@router.post("/queues/{queue_id}/questions", response={201: dict[str, Any]})
def add_question(
    request: AuthedRequest, queue_id: int, payload: QuestionIn
) -> Status[dict[str, Any]]:
    """Ask one more question (decision, rating, labels, text or ranking) from now on."""
    queue = object_for(request.user, ReviewQueue.objects.all(), queue_id, Role.CURATOR)
    try:
        return Status(
            201, services.add_question(request.user, queue, payload.dict(exclude_none=True))
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc


@router.post("/queues/{queue_id}/claim", response={200: AssignmentOut, 204: None})
def claim(request: AuthedRequest, queue_id: int) -> Any:
    queue = object_for(request.user, ReviewQueue.objects.all(), queue_id, Role.ANNOTATOR)
    try:
        assignment = services.claim_next(request.user, queue)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    if assignment is None:
        return Status(204, None)
    return assignment_out(assignment)


@router.post("/assignments/{assignment_id}/submit", response=ReviewOut)
def submit(request: AuthedRequest, assignment_id: int, payload: SubmitIn) -> Any:
    assignment = own_assignment(request.user, assignment_id)
    try:
        review = services.submit_review(request.user, assignment, **payload.dict())
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return review


@router.post("/assignments/{assignment_id}/skip", response={204: None})
def skip(request: AuthedRequest, assignment_id: int) -> Status[None]:
    assignment = own_assignment(request.user, assignment_id)
    try:
        services.skip(request.user, assignment)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return Status(204, None)


@router.post("/queues/{queue_id}/undo", response=AssignmentOut)
def undo(request: AuthedRequest, queue_id: int) -> dict[str, Any]:
    queue = object_for(request.user, ReviewQueue.objects.all(), queue_id, Role.ANNOTATOR)
    try:
        assignment = services.undo_last(request.user, queue)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return assignment_out(assignment)


class BulkIn(Schema):
    filters: dict[str, Any] = {}
    decision: str = ""
    confirm_count: int | None = None  # omit to get the count to confirm


@router.post("/projects/{project_id}/samples/bulk", response={200: dict[str, Any]})
def bulk_decide(request: AuthedRequest, project_id: int, payload: BulkIn) -> dict[str, Any]:
    """Two steps: without confirm_count, report how many samples match; with it, apply."""
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        count = services.filtered_samples(project, payload.filters).count()
        if payload.confirm_count is None:
            return {"matching": count, "applied": False}
        done = services.bulk_decide(
            request.user, project, payload.filters, payload.decision, payload.confirm_count
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return {"matching": done, "applied": True}


@router.get("/samples/{sample_id}/history", response=dict[str, Any])
def sample_history(request: AuthedRequest, sample_id: int) -> dict[str, Any]:
    """Every audited change to the sample (reviews, undo, adjudication, bulk, dedup) and its
    edits as diffs, oldest first."""
    from curation.review.history import sample_history as history
    from curation.samples.models import Sample

    sample = object_for(request.user, Sample.objects.all(), sample_id)
    curator = membership_for(request.user, sample.project_id).has_role(Role.CURATOR)
    return history(sample, only_actor=None if curator else request.user)
