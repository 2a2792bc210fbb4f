"""How queues and assignments look from outside: progress, agreement and per-annotator
figures, shared by the API, the pages, the review command and export cards."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from curation.review.calibration import JUDGE_ACCEPTS_AT
from curation.review.models import Assignment, ReviewQueue
from curation.review.routing import feed_summary


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
        "feed": feed_summary(queue),
        "turns": turn_summary(queue),
    }


def turn_summary(queue: ReviewQueue) -> dict[str, int]:
    """Conversations: how many reviews marked turns, how many turns were flagged and rated,
    and how many conversations were cut (curation/review/turns.py)."""
    from curation.review.models import Review, SampleRevision

    marked = list(
        Review.objects.filter(item__queue=queue).exclude(turns={}).values_list("turns", flat=True)
    )
    return {
        "reviews_with_marks": len(marked),
        "flagged_turns": sum(1 for m in marked for t in m.values() if t.get("flag")),
        "rated_turns": sum(1 for m in marked for t in m.values() if "rating" in t),
        "truncated": SampleRevision.objects.filter(
            review__item__queue=queue, truncated_after__isnull=False
        ).count(),
    }


def assignment_out(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "queue_id": a.item.queue_id,
        "lease_expires_at": a.lease_expires_at,
        "sample": a.item.sample,
    }
