"""Curators' decisions: the final word on one item (adjudication), or on every sample a
filter matches (bulk). Each is one transaction with its audit record."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import transaction
from django.utils import timezone

from curation.projects import audit
from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.review.models import QueueItem
from curation.review.queues import filtered_samples
from curation.samples.models import Sample, SampleStatus

DECISIONS = {"accept", "reject"}


def adjudicate(actor: Any, item: QueueItem, decision: str, comment: str = "") -> QueueItem:
    """A curator's final word on an item, whatever the annotators said."""
    if decision not in DECISIONS:
        raise ServiceError("The decision must be accept or reject.")
    with transaction.atomic():
        locked = QueueItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
        before = {
            "final_decision": locked.final_decision,
            "sample_status": Sample.objects.get(pk=locked.sample_id).status,
        }
        locked.final_decision = decision
        locked.adjudicated_by = actor
        locked.adjudicated_at = timezone.now()
        locked.settled = True
        locked.save(update_fields=["final_decision", "adjudicated_by", "adjudicated_at", "settled"])
        status = SampleStatus.ACCEPTED if decision == "accept" else SampleStatus.REJECTED
        Sample.objects.filter(pk=locked.sample_id).update(status=status, auto_accepted=False)
        audit.record(
            actor,
            "review.adjudicate",
            locked,
            project=locked.queue.project_id,
            before=before,
            after={"sample": locked.sample_id, "final_decision": decision, "comment": comment},
        )
    return locked


def bulk_decide(
    actor: Any, project: Project, filters: dict[str, Any], decision: str, expected_count: int
) -> int:
    """Accept or reject every sample matching the filters; the caller confirmed the count."""
    if decision not in DECISIONS:
        raise ServiceError("The decision must be accept or reject.")
    status = SampleStatus.ACCEPTED if decision == "accept" else SampleStatus.REJECTED
    with transaction.atomic():
        qs = filtered_samples(project, filters)
        ids = list(qs.values_list("id", flat=True))
        if len(ids) != expected_count:
            raise ServiceError(
                f"{len(ids)} samples match now, not the {expected_count} you confirmed; "
                "check the filters again."
            )
        before = Counter(qs.values_list("status", flat=True))
        Sample.objects.filter(pk__in=ids).update(status=status, auto_accepted=False)
        audit.record(
            actor,
            "samples.bulk_decide",
            project,
            project=project,
            before={"statuses": dict(before)},
            after={
                "decision": decision,
                "count": len(ids),
                "filters": filters,
                "sample_ids": ids[:10_000],
            },
        )
    return len(ids)
