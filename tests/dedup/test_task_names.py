"""Celery finds tasks by name: a name must survive the code moving to another module."""

from __future__ import annotations

from curation.celery import app
from curation.dedup import tasks


def test_dedup_tasks_keep_the_names_they_had_under_generation() -> None:
    # Messages queued before the move (and the beat schedule) use these names.
    assert tasks.detect_new_samples.name == "generation.dedup.tasks.detect_new_samples"
    assert tasks.run_dedup_job.name == "generation.dedup.tasks.run_dedup_job"
    assert tasks.sweep_unembedded.name == "generation.dedup.tasks.sweep_unembedded"


def test_every_task_in_the_beat_schedule_is_registered() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
