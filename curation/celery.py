"""The Celery app. Tasks take ids only; state lives in our tables."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")

app = Celery("seedbed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    # Runs whose driver died (kill -9, lost message) are re-enqueued (generation/runs/tasks.py).
    "sweep-stale-runs": {
        "task": "generation.runs.tasks.sweep_stale_runs",
        "schedule": float(os.environ.get("SEEDBED_SWEEP_SECONDS", "15")),
    },
    # Review items whose lease ran out go back to the queue (curation/review/tasks.py).
    "release-expired-leases": {
        "task": "curation.review.tasks.release_expired_leases",
        "schedule": 60.0,
    },
    # New, imported and edited samples are embedded and checked for near-duplicates
    # (curation/dedup/tasks.py; the task keeps its name from before the move).
    "embed-and-detect": {
        "task": "generation.dedup.tasks.sweep_unembedded",
        "schedule": float(os.environ.get("SEEDBED_DEDUP_SWEEP_SECONDS", "20")),
    },
}
