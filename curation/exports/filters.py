"""Which samples an export holds: the filters, validated, and the queryset they make."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Exists, OuterRef, Q, QuerySet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.review.models import QueueItem, ReviewQueue
from curation.review.queues import by_confidence
from curation.samples.models import DupStatus, Sample, SampleKind, SampleStatus

NON_CANONICAL = (DupStatus.NEAR_DUPLICATE, DupStatus.EXACT_DUPLICATE)


class ExportFilters(BaseModel):
    """Every filter is optional; empty lists mean "any"."""

    model_config = ConfigDict(extra="forbid")

    statuses: list[SampleStatus] = Field(default_factory=lambda: [SampleStatus.ACCEPTED])
    # Only samples whose queue item a curator adjudicated (final decision recorded).
    adjudicated_only: bool = False
    queue_ids: list[int] = Field(default_factory=list)
    run_ids: list[int] = Field(default_factory=list)
    recipe_ids: list[str] = Field(default_factory=list)
    kinds: list[SampleKind] = Field(default_factory=list)
    score_min: float | None = None
    score_max: float | None = None
    # Drop near and exact duplicates (and anything pointing at a canonical sample).
    canonical_only: bool = False
    tags: list[str] = Field(default_factory=list)  # any of these
    # The judge's confidence (0-1): at least this sure; or below this or unknown.
    confidence_min: float | None = Field(None, ge=0.0, le=1.0)
    confidence_below: float | None = Field(None, gt=0.0, le=1.0)
    # auto: accepted by a run's confidence rule; people: decided (or left) by people.
    decided_by: Literal["auto", "people"] | None = None

    @model_validator(mode="after")
    def _scores_in_order(self) -> ExportFilters:
        if (
            self.score_min is not None
            and self.score_max is not None
            and self.score_min > self.score_max
        ):
            raise ValueError("score_min is above score_max")
        return self


def parse_filters(raw: dict[str, Any] | None) -> ExportFilters:
    try:
        return ExportFilters.model_validate(raw or {})
    except ValidationError as exc:
        raise ServiceError(f"Bad filters: {pydantic_message(exc)}") from exc


def pydantic_message(exc: ValidationError) -> str:
    """One line per problem, naming the field: written for the person who sent it."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def check_ownership(project: Project, f: ExportFilters) -> None:
    """Queue and run ids must be this project's: never let one project read another's."""
    # project.runs: runs are generation's; curation reads them through the relation only.
    owned: tuple[tuple[QuerySet[Any], list[int], str], ...] = (
        (ReviewQueue.objects.filter(project=project), f.queue_ids, "queue"),
        (project.runs.all(), f.run_ids, "run"),
    )
    for qs, ids, noun in owned:
        if not ids:
            continue
        found = set(qs.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise ServiceError(f"No {noun} {missing[0]} in this project.")


def base_queryset(project: Project, f: ExportFilters, *, statuses: bool = True) -> QuerySet[Sample]:
    """The samples the filters select. `statuses=False` leaves status open (pairs need the
    rejected side too)."""
    qs = Sample.objects.filter(project=project)
    if statuses and f.statuses:
        qs = qs.filter(status__in=f.statuses)
    if f.adjudicated_only:
        qs = qs.filter(
            Exists(QueueItem.objects.filter(sample=OuterRef("pk")).exclude(final_decision=""))
        )
    if f.queue_ids:
        qs = qs.filter(
            Exists(QueueItem.objects.filter(sample=OuterRef("pk"), queue_id__in=f.queue_ids))
        )
    if f.run_ids:
        qs = qs.filter(run_id__in=f.run_ids)
    if f.recipe_ids:
        qs = qs.filter(recipe_id__in=f.recipe_ids)
    if f.kinds:
        qs = qs.filter(kind__in=f.kinds)
    if f.score_min is not None:
        qs = qs.filter(judge_score__gte=f.score_min)
    if f.score_max is not None:
        qs = qs.filter(judge_score__lte=f.score_max)
    if f.canonical_only:
        qs = qs.exclude(Q(dup_status__in=NON_CANONICAL) | Q(duplicate_of__isnull=False))
    if f.tags:
        qs = qs.filter(tags__overlap=f.tags)
    return by_confidence(
        qs, f.model_dump(include={"confidence_min", "confidence_below", "decided_by"})
    )
