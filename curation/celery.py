"""The Celery app. Tasks take ids only; state lives in our tables."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")

app = Celery("seedbed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Periodic work (the stale-run sweeper, expired review leases) registers itself in each
# app's tasks module through `app.conf.beat_schedule`; beat runs whatever is there.
