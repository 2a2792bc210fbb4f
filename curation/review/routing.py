"""People where the judge is unsure: a run's samples below a judge confidence go to review.

A run started with "review below c" (generation/runs/services.start_run) sends each batch of
new samples here, in the transaction that stored them (curation/samples/signals.py):

- confidence ≥ c: accepted automatically, `Sample.auto_accepted` set (review pages and
  exports say so), except a `spot_check` share of them, chosen by a hash of the sample id;
- confidence < c, unknown confidence (one judge sample, no judge), and the spot checks:
  a QueueItem in the run's "judge unsure" queue, least confident first.

A person's decision on a sample later clears `auto_accepted` (curation/review/services.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from curation.projects import audit
from curation.review import questions as questions_module
from curation.review.models import QueueItem, QueueOrder, ReviewQueue
from curation.samples.models import Sample, SampleStatus

UNKNOWN_FIRST = -1.0  # sort key of a sample without a confidence: before the least confident


def confidence_sort_key(confidence: float | None) -> float:
    return UNKNOWN_FIRST if confidence is None else confidence


def spot_checked(run_id: int, sample_id: int, share: float) -> bool:
    """Whether a confident sample is sent to review anyway: stable, about `share` of them."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{run_id}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def feed_queue(run: Any) -> ReviewQueue:
    """The run's "judge unsure" queue, made on its first stored batch."""
    queue = ReviewQueue.objects.filter(feed_run_id=run.pk).first()
    if queue is not None:
        return queue
    name = f"{run.name or f'Run #{run.pk}'}: judge unsure"[:200]
    if ReviewQueue.objects.filter(project_id=run.project_id, name=name).exists():
        name = f"{name[:180]} (run #{run.pk})"
    queue = ReviewQueue.objects.create(
        project_id=run.project_id,
        name=name,
        filters={"run_ids": [run.pk], "confidence_below": run.review_below},
        order=QueueOrder.LEAST_CONFIDENT,
        questions=questions_module.normalize_all(None),
        guidelines=(
            f"Samples of run #{run.pk} whose judge confidence is below {run.review_below:g} "
            "(or unknown), least confident first. The others were accepted automatically."
        ),
        feed_run_id=run.pk,
        auto_accept_at=run.review_below,
        created_by_id=getattr(run, "created_by_id", None),
    )
    audit.record(
        None,
        "queue.create",
        queue,
        project=run.project_id,
        after={"name": name, "feed_run": run.pk, "auto_accept_at": run.review_below},
    )
    return queue


def feed_summary(queue: ReviewQueue) -> dict[str, Any] | None:
    """For a run's "judge unsure" queue: its run, threshold and how many were auto-accepted."""
    if queue.feed_run_id is None:
        return None
    auto = Sample.objects.filter(run_id=queue.feed_run_id, auto_accepted=True).count()
    return {"run": queue.feed_run_id, "below": queue.auto_accept_at, "auto_accepted": auto}


def route(sender: Any, sample_ids: list[int], **_: Any) -> None:
    """Receiver of samples_stored: split a run's new samples by their judge confidence."""
    below = getattr(sender, "review_below", None)
    if below is None or not sample_ids:
        return
    share = float(getattr(sender, "spot_check", 0.0) or 0.0)
    rows = Sample.objects.filter(pk__in=sample_ids).values_list("id", "judge_confidence")
    accept: list[int] = []
    review: list[tuple[int, float | None]] = []
    spot = 0
    for pk, confidence in rows:
        if confidence is not None and confidence >= below:
            if not spot_checked(sender.pk, pk, share):
                accept.append(pk)
                continue
            spot += 1
        review.append((pk, confidence))
    if accept:
        Sample.objects.filter(pk__in=accept).update(
            status=SampleStatus.ACCEPTED, auto_accepted=True
        )
    queue = feed_queue(sender)
    QueueItem.objects.bulk_create(
        [QueueItem(queue=queue, sample_id=pk, sort_key=confidence_sort_key(c)) for pk, c in review],
        ignore_conflicts=True,
    )
    audit.record(
        None,
        "samples.route",
        queue,
        project=sender.project_id,
        after={
            "run": sender.pk,
            "auto_accepted": len(accept),
            "to_review": len(review) - spot,
            "spot_checks": spot,
            "threshold": below,
        },
    )
