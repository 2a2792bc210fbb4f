"""The limiter: local buckets as LLMClient had them; the shared backends across processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from curation.projects.models import LimitBucket, LimitLease, LimitWaiter
from generation.limits import backend_for, limits_with, shared_limits
from generation.limits import via_postgres as pg
from generation.limits.shared import Store
from tests.limits.hammer import make_store

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# The test database must exist; the limiter writes to it on its own connection.
pytestmark = pytest.mark.django_db


def on_store(spec: dict[str, Any], use: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = make_store(spec)
        try:
            return await use(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


def hammer(spec: dict[str, Any], *args: object) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.limits.hammer", json.dumps(spec), *map(str, args)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def results(procs: list[subprocess.Popen[str]], timeout: float = 60) -> list[Any]:
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, stdout
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def most_at_once(spans: list[list[float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    level = peak = 0
    for _, step in events:  # an end sorts before a start at the same instant
        level += step
        peak = max(peak, level)
    return peak


# -- choosing ----------------------------------------------------------------------------------


def test_auto_takes_redis_with_a_redis_broker_and_postgres_otherwise() -> None:
    assert backend_for("redis://127.0.0.1:6379/0", eager=False) == "redis"
    assert backend_for("sqla+postgresql+psycopg://u@/b", eager=False) == "postgres"
    assert backend_for("redis://x", eager=True) == "local"
    assert backend_for("redis://x", eager=False, choice="postgres") == "postgres"
    with pytest.raises(ValueError, match="SEEDBED_LIMITS"):
        backend_for("memory://", eager=False, choice="zookeeper")


def test_without_an_endpoint_id_or_in_eager_mode_the_limits_are_in_process(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert type(shared_limits(None, 8)).__name__ == "InProcessLimits"
    assert type(shared_limits(7, 8)).__name__ == "SharedLimits"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert type(shared_limits(7, 8)).__name__ == "InProcessLimits"


def test_the_sql_names_the_models_tables() -> None:
    assert LimitLease._meta.db_table == pg.LEASES
    assert LimitWaiter._meta.db_table == pg.WAITERS
    assert LimitBucket._meta.db_table == pg.BUCKETS
    assert pg.LEASES in pg._ACQUIRE and pg.WAITERS in pg._ACQUIRE
    assert pg.LEASES in pg._RELEASE and pg.LEASES in pg._RENEW and pg.BUCKETS in pg._RESERVE


# -- shared, one process -------------------------------------------------------------------------


def test_a_shared_slot_is_free_again_once_released(spec: dict[str, Any], endpoint_id: int) -> None:
    async def use(store: Store) -> None:
        limits = limits_with(store, endpoint_id, 2)
        async with limits.slot(), limits.slot():
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3), limits.slot():
                    pass
        async with asyncio.timeout(2), limits.slot(), limits.slot():
            pass

    on_store(spec, use)


def test_a_cancelled_waiter_takes_no_slot(spec: dict[str, Any], endpoint_id: int) -> None:
    async def use(store: Store) -> None:
        limits = limits_with(store, endpoint_id, 1)

        async def wait() -> None:
            async with limits.slot():
                await asyncio.sleep(30)

        async with limits.slot():
            waiter = asyncio.ensure_future(wait())
            await asyncio.sleep(0.1)
            waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        async with asyncio.timeout(2), limits.slot():
            assert list(store.held.values()) == [endpoint_id]

    on_store(spec, use)


def test_shared_buckets_reserve_and_settle_like_the_local_ones(
    spec: dict[str, Any], endpoint_id: int
) -> None:
    async def use(store: Store) -> list[float]:
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        limits = limits_with(store, endpoint_id, 8, tpm=60, sleep=sleep)
        await limits.take(51)
        limits.settle(5)  # sent with the next take
        await limits.take(51)
        return sleeps

    sleeps = on_store(spec, use)

    assert len(sleeps) == 1 and sleeps[0] == pytest.approx(47, abs=0.5)


# -- shared, several processes ---------------------------------------------------------------------


def test_four_processes_never_hold_more_than_max_slots(
    spec: dict[str, Any], endpoint_id: int
) -> None:
    procs = [hammer(spec, "slots", endpoint_id, 8, 20, 3, 0.02) for _ in range(4)]
    spans = results(procs)

    assert [len(s) for s in spans] == [60] * 4  # every process got its turns
    assert most_at_once([span for s in spans for span in s]) == 8


def test_rpm_is_honoured_across_processes(spec: dict[str, Any], endpoint_id: int) -> None:
    rpm = 600  # 10 a second, once the minute's burst is spent

    async def drain(store: Store) -> float:
        await store.call(lambda: store.reserve(endpoint_id, [("rpm", float(rpm), float(rpm))]))
        return time.monotonic()

    drained_at = on_store(spec, drain)
    procs = [hammer(spec, "takes", endpoint_id, rpm, 10) for _ in range(4)]
    done = sorted(t for times in results(procs) for t in times)

    assert len(done) == 40
    for k, at in enumerate(done, start=1):  # by time t, at most 10 * t requests went out
        assert at >= drained_at + k / 10 - 0.1, (k, at - drained_at)


def test_a_killed_holders_slots_come_back_within_the_ttl(
    spec: dict[str, Any], endpoint_id: int
) -> None:
    ttl = spec["ttl_s"]
    holder = hammer(spec, "hold", endpoint_id, 8, 8)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

        async def use(store: Store) -> float:
            limits = limits_with(store, endpoint_id, 8)
            held_at = time.monotonic()
            while time.monotonic() < held_at + 2 * ttl:  # renewed past its TTL: still held
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.3), limits.slot():
                        pass
            os.kill(holder.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            slots = [limits.slot() for _ in range(8)]
            async with asyncio.timeout(ttl + 2):
                for slot in slots:
                    await slot.__aenter__()
            back_after = time.monotonic() - killed_at
            for slot in slots:
                await slot.__aexit__(None, None, None)
            return back_after

        back_after = on_store(spec, use)
    finally:
        holder.kill()
        holder.wait()

    assert back_after <= ttl + 0.5
