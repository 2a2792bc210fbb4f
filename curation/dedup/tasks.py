"""Celery tasks: id-only, idempotent, thin wrappers over curation/dedup/services.py.

The tasks keep the names they had in generation/dedup, so messages already queued (and
the beat schedule) still reach them after the move.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

log = logging.getLogger(__name__)
TASK_LOCK = 0x5EEDDEE  # pg_try_advisory_lock(namespace, project id): one scan per project


def _try_lock(project_id: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [TASK_LOCK, project_id])
        return bool(cur.fetchone()[0])


def _unlock(project_id: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, %s)", [TASK_LOCK, project_id])


@shared_task(acks_late=True, ignore_result=True, name="generation.dedup.tasks.detect_new_samples")
def detect_new_samples(project_id: int) -> None:
    """Embed new or edited samples of a project and cluster them. Safe to run twice: only
    rows whose vector is missing or stale are embedded; a scan already running wins."""
    from curation.dedup.services import scan

    if not _try_lock(project_id):
        return  # another worker is scanning; the next sweep picks up what it missed
    try:
        scan(project_id)
    finally:
        _unlock(project_id)


@shared_task(acks_late=True, ignore_result=True, name="generation.dedup.tasks.run_dedup_job")
def run_dedup_job(job_id: int) -> None:
    from curation.dedup.models import DedupJob
    from curation.dedup.services import run_job

    project_id = DedupJob.objects.filter(pk=job_id).values_list("project_id", flat=True).first()
    if project_id is None:
        return
    if not _try_lock(project_id):
        run_dedup_job.apply_async((job_id,), countdown=10)
        return
    try:
        run_job(job_id)
    finally:
        _unlock(project_id)


@shared_task(ignore_result=True, name="generation.dedup.tasks.sweep_unembedded")
def sweep_unembedded() -> int:
    """Beat: projects with samples or seeds not embedded yet get a detection task. This is
    how samples from runs, imports and edits are checked soon after they are written."""

    from curation.samples.models import Sample
    from curation.seeds.models import Seed

    projects = set(
        # New, edited and re-dimensioned samples all have an empty embedded_hash (a partial
        # index covers exactly those rows); text-less samples are marked done without a vector.
        Sample.objects.filter(embedded_hash="").values_list("project_id", flat=True).distinct()
    ) | set(
        Seed.objects.filter(embedding__isnull=True)
        .values_list("seed_set__project_id", flat=True)
        .distinct()
    )
    for project_id in sorted(projects):
        detect_new_samples.delay(project_id)
    return len(projects)
