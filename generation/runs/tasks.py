"""Celery tasks: thin, id-only, idempotent wrappers around the driver and services."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from generation.runs.driver import drive
from generation.runs.lease import stale_seconds

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def drive_run(run_id: int) -> None:
    """One slice; then the next slice as a new task, so workers stay fair and crash-safe."""
    result = drive(run_id)
    # Eager mode (tests) would recurse once per slice; loop instead.
    while result.again and settings.CELERY_TASK_ALWAYS_EAGER:
        result = drive(run_id)
    if result.again:
        drive_run.delay(run_id)


@shared_task(ignore_result=True)
def sweep_stale_runs() -> int:
    """Re-enqueue runs whose driver died (stale heartbeat) or whose task was lost."""
    from generation.runs.models import Run, RunStatus

    stale = timezone.now() - timedelta(seconds=stale_seconds())
    ids = list(
        Run.objects.filter(
            Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=RunStatus.QUEUED, created_at__lt=stale)
            & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
        ).values_list("id", flat=True)
    )
    for run_id in ids:
        log.warning("run %s: no heartbeat since %s; re-enqueueing its driver", run_id, stale)
        drive_run.delay(run_id)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def judge_samples_task(
    project_id: int, sample_ids: list[int], endpoint_id: int, samples: int
) -> None:
    """The reusable JUDGE step over a selection: writes a Judgement per sample (idempotent)."""
    from generation.runs.judging import judge_selection

    judge_selection(project_id, sample_ids, endpoint_id, samples)
