"""Periodic review upkeep."""

from __future__ import annotations

from celery import shared_task

from curation.review import services


@shared_task(acks_late=True, ignore_result=True)
def release_expired_leases() -> int:
    """Give the slots of expired leases back, in every queue. Idempotent."""
    return services.release_expired()
