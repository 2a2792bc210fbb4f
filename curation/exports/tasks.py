"""Celery tasks: id-only, idempotent wrappers over the export services."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def build_export_task(export_id: int) -> None:
    """Safe to run twice: the build claims the export with a conditional UPDATE."""
    from curation.exports.services import build_export

    build_export(export_id)
