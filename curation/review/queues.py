"""Review queues: made from a filter over a project's samples, and their questions.

A queue is a snapshot: the samples the filter matched when it was made, each a QueueItem
with a sort key for the queue's order (random, lowest judge score, most disagreement).
"""

from __future__ import annotations

import random
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from curation.projects import audit
from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.review import questions as questions_module
from curation.review.models import QueueItem, QueueOrder, ReviewQueue
from curation.review.routing import confidence_sort_key
from curation.samples.models import Sample

SAMPLE_FILTERS = {
    "run_ids",
    "recipe_ids",
    "kinds",
    "statuses",
    "score_min",
    "score_max",
    "dup_statuses",
    "tags",
    "confidence_min",
    "confidence_below",
    "decided_by",
}
DECIDED_BY = ("auto", "people")
INSERT_BATCH = 5000
ANALYZE_AFTER = 1000


def filtered_samples(project: Project, filters: dict[str, Any]) -> Any:
    unknown = set(filters) - SAMPLE_FILTERS
    if unknown:
        raise ServiceError(f"Unknown filters: {', '.join(sorted(unknown))}.")
    qs = Sample.objects.filter(project=project)
    if filters.get("run_ids"):
        qs = qs.filter(run_id__in=filters["run_ids"])
    if filters.get("recipe_ids"):
        qs = qs.filter(recipe_id__in=filters["recipe_ids"])
    if filters.get("kinds"):
        qs = qs.filter(kind__in=filters["kinds"])
    if filters.get("statuses"):
        qs = qs.filter(status__in=filters["statuses"])
    if filters.get("score_min") is not None:
        qs = qs.filter(judge_score__gte=filters["score_min"])
    if filters.get("score_max") is not None:
        qs = qs.filter(judge_score__lte=filters["score_max"])
    if filters.get("dup_statuses"):
        qs = qs.filter(dup_status__in=filters["dup_statuses"])
    if filters.get("tags"):
        qs = qs.filter(tags__overlap=filters["tags"])
    return by_confidence(qs, filters)


def by_confidence(qs: Any, filters: dict[str, Any]) -> Any:
    """confidence_min: judged at least this sure; confidence_below: below it or unknown (what
    a run's routing sends to people); decided_by: auto (accepted by that rule) or people."""
    if filters.get("confidence_min") is not None:
        qs = qs.filter(judge_confidence__gte=filters["confidence_min"])
    if filters.get("confidence_below") is not None:
        qs = qs.filter(
            Q(judge_confidence__lt=filters["confidence_below"]) | Q(judge_confidence__isnull=True)
        )
    decided_by = filters.get("decided_by")
    if decided_by:
        if decided_by not in DECIDED_BY:
            raise ServiceError(f"decided_by is one of {', '.join(DECIDED_BY)}.")
        qs = qs.filter(auto_accepted=decided_by == "auto")
    return qs


def _sort_key(
    order: str, score: float | None, confidence: float | None, rng: random.Random
) -> float:
    if order == QueueOrder.LOWEST_SCORE:
        return score if score is not None else 1e9
    if order == QueueOrder.LEAST_CONFIDENT:
        return confidence_sort_key(confidence)
    if order == QueueOrder.MOST_DISAGREEMENT:
        return 0.0  # updated as reviews disagree (see submit)
    return rng.random()


def create_queue(
    actor: Any,
    project: Project,
    *,
    name: str,
    filters: dict[str, Any] | None = None,
    overlap: int = 1,
    order: str = QueueOrder.RANDOM,
    guidelines: str = "",
    questions: list[dict[str, Any]] | None = None,
    lease_seconds: int = 600,
) -> ReviewQueue:
    filters = filters or {}
    questions_module.normalize_all(questions)  # a bad question fails before any row is written
    if overlap < 1:
        raise ServiceError("Overlap must be at least 1.")
    if order not in QueueOrder.values:
        raise ServiceError(f"Order must be one of {', '.join(QueueOrder.values)}.")
    if ReviewQueue.objects.filter(project=project, name=name).exists():
        raise ServiceError(f"A queue named {name!r} exists.")
    samples = filtered_samples(project, filters)
    with transaction.atomic():
        queue = ReviewQueue.objects.create(
            project=project,
            name=name,
            filters=filters,
            overlap=overlap,
            order=order,
            guidelines=guidelines,
            questions=questions_module.normalize_all(questions),
            lease_seconds=lease_seconds,
            created_by=actor,
        )
        rng = random.Random(queue.pk)
        batch: list[QueueItem] = []
        total = 0
        for pk, score, confidence in (
            samples.order_by("id")
            .values_list("id", "judge_score", "judge_confidence")
            .iterator(chunk_size=INSERT_BATCH)
        ):
            key = _sort_key(order, score, confidence, rng)
            batch.append(QueueItem(queue=queue, sample_id=pk, sort_key=key))
            if len(batch) >= INSERT_BATCH:
                QueueItem.objects.bulk_create(batch)
                total += len(batch)
                batch = []
        QueueItem.objects.bulk_create(batch)
        total += len(batch)
        audit.record(
            actor,
            "queue.create",
            queue,
            project=project,
            after={"name": name, "items": total, "overlap": overlap, "order": order},
        )
    if total >= ANALYZE_AFTER:
        # Fresh statistics, so that claiming walks the claim-order index from the start
        # instead of sorting the whole queue (autovacuum would only get there later).
        with connection.cursor() as cur:
            cur.execute("ANALYZE review_queueitem")
    return queue


def add_question(actor: Any, queue: ReviewQueue, question: dict[str, Any]) -> dict[str, Any]:
    """Ask one more question from now on. Reviews made before it simply lack its answer."""
    with transaction.atomic():
        locked = ReviewQueue.objects.select_for_update().get(pk=queue.pk)
        clean = questions_module.normalize(question, locked.questions)
        locked.questions = [*locked.questions, clean]
        locked.save(update_fields=["questions"])
        audit.record(actor, "queue.add_question", locked, project=locked.project_id, after=clean)
    queue.questions = locked.questions
    return clean
