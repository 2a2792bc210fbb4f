"""A run's slices: settings, the lease a driver takes, and how a futile run is reported."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from generation.runs.models import Run, RunStatus


def slice_seconds() -> float:
    return float(getattr(settings, "SEEDBED_RUN_SLICE_SECONDS", 30.0))


def stale_seconds() -> float:
    return float(getattr(settings, "SEEDBED_RUN_STALE_SECONDS", 90.0))


def item_retries() -> int:
    return int(getattr(settings, "SEEDBED_RUN_ITEM_RETRIES", 2))


def futility_limit(run: Run) -> int:
    return run.futility_limit or max(200, 5 * run.target_count)


@dataclass(frozen=True)
class SliceResult:
    status: str
    produced: int
    again: bool  # the run needs another slice


def acquire_lease(run_id: int) -> str | None:
    """Take the run for one slice, unless a live driver holds it. One conditional UPDATE."""
    token = secrets.token_hex(8)
    now = timezone.now()
    stale = now - timedelta(seconds=stale_seconds())
    taken = Run.objects.filter(
        Q(lease_token="") | Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True),
        pk=run_id,
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
    ).update(lease_token=token, heartbeat_at=now, status=RunStatus.RUNNING, slices=F("slices") + 1)
    if not taken:
        return None
    Run.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    return token


def futility_message(run: Run, streak: int, lead: str = "Stopped as futile") -> str:
    reasons = Counter(run.filtered or {})
    top = ", ".join(f"{r} ({n})" for r, n in reasons.most_common(3)) or "none recorded"
    failed = f"; {run.failed} items failed" if run.failed else ""
    return (
        f"{lead}: {streak} finished items in a row produced no sample. "
        f"Top filter reasons: {top}{failed}. The run page shows example outputs per reason."
    )
