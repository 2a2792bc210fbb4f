"""Per-endpoint limits (concurrency, RPM, TPM) held across every worker process.

    limits = shared_limits(endpoint_id, max_concurrency, rpm, tpm)
    await limits.take(estimate)      # one request: 1 from rpm, `estimate` tokens from tpm
    async with limits.slot():        # one of max_concurrency slots, across all workers
        body = await send()
    limits.settle(used - estimate)   # correct the tpm estimate once usage is known

Three backends behind that interface (`generation.llm.limits.Limits`, LLMClient's seam):

- `local`: `generation.llm.limits.InProcessLimits`, the asyncio semaphore and token buckets
  LLMClient always had. Exact and free, but per process: N workers may reach N times the
  limits.
- `postgres` (via_postgres.py): a leases table (SKIP LOCKED), waiters and bucket rows, on the
  app's own database, so it works with the embedded default and nothing else to run.
- `redis` (via_redis.py): Lua scripts for a semaphore (ZSET of holders scored by expiry) and
  token buckets, on the broker's Redis.

Both shared backends lease slots for a TTL (SEEDBED_LIMITS_TTL_S, 15 s) that the holding
process renews every TTL/3, so a worker killed with kill -9 gives its slots back within the
TTL; buckets are reservations (debit now, wait out the debt), so rpm/tpm are honoured across
processes and served first come, first served; waiting processes get a fair share of slots.

Which backend: SEEDBED_LIMITS = auto (the default) | local | postgres | redis. `auto` takes
Redis where CELERY_BROKER_URL is Redis, Postgres otherwise (the embedded default, with the
SQLAlchemy broker), and local in eager mode (tests, benchmarks: one process does all the
work). Chosen by measurement, bench/limits.py on the 2-core dev machine (2026-12-01, one
process, uncontended, p50 per call; acquire+release / take / calls per second with 64
coroutines through the one connection):

    local     0.001 ms / 0.002 ms / ~200,000 per s
    postgres  0.37 ms  / 0.16 ms  / 1,320 per s
    redis     0.28 ms  / 0.13 ms  / 2,080 per s

(With the machine loaded by other test runs, load average 11: postgres 1.5 / 0.42 ms / 204
per s, redis 0.88 / 0.30 ms / 393 per s.) Either shared backend adds about 0.5 ms to a
request that takes hundreds, so correctness decides, not speed: Postgres needs nothing that
the app does not already run, so it is the default there; where Redis is the broker it is
1.3x cheaper per call and 1.6x at concurrency 64 and keeps the limiter's writes (three a
request) off the database, so it is preferred. Postgres commits without waiting for the WAL
flush (synchronous_commit=off on its own connection): waiting made each call 3-6 ms.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from generation.limits.shared import (
    DEFAULT_TTL_S,
    LimitsUnavailable,
    SharedLimits,
    Store,
    close_stores,
    store_for,
)
from generation.llm.limits import InProcessLimits, Limits

__all__ = [
    "Limits",
    "LimitsUnavailable",
    "SharedLimits",
    "backend_for",
    "close_stores",
    "endpoint_limits",
    "shared_limits",
]

BACKENDS = ("local", "postgres", "redis")


def _setting(name: str, default: str) -> str:
    from django.conf import settings

    value = getattr(settings, name, None) if settings.configured else None
    return str(value if value is not None else os.environ.get(name, default))


def backend_for(broker_url: str, eager: bool, choice: str = "auto") -> str:
    """The backend `auto` resolves to: Redis where the broker is Redis, else Postgres; local
    in eager mode, where every task runs in the calling process."""
    if choice != "auto":
        if choice not in BACKENDS:
            raise ValueError(f"SEEDBED_LIMITS={choice!r}: one of auto, {', '.join(BACKENDS)}")
        return choice
    if eager:
        return "local"
    return "redis" if broker_url.startswith(("redis://", "rediss://", "unix://")) else "postgres"


def postgres_conninfo() -> dict[str, Any]:
    """psycopg connection arguments for Django's default database (the test one in tests)."""
    from django.db import connections

    db = connections["default"].settings_dict
    info = {
        "host": db.get("HOST"),
        "port": db.get("PORT"),
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
    }
    return {key: value for key, value in info.items() if value}


def shared_limits(
    endpoint_id: int | None,
    max_concurrency: int,
    rpm: int | None = None,
    tpm: int | None = None,
    *,
    backend: str | None = None,
) -> Limits:
    """The limits of one endpoint, in the configured backend (local without an endpoint id).

    Cheap to call: shared backends connect on first use, once per process and event loop."""
    from django.conf import settings

    choice = backend or backend_for(
        str(getattr(settings, "CELERY_BROKER_URL", "")),
        bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)),
        _setting("SEEDBED_LIMITS", "auto"),
    )
    if choice == "local" or endpoint_id is None:
        return InProcessLimits(max_concurrency, rpm, tpm, clock=time.monotonic, sleep=asyncio.sleep)
    ttl_s = float(_setting("SEEDBED_LIMITS_TTL_S", str(DEFAULT_TTL_S)))
    key, make = _store_maker(choice, ttl_s)
    return SharedLimits(lambda: store_for(key, make), endpoint_id, max_concurrency, rpm, tpm)


def endpoint_limits(endpoint: Any) -> Limits:
    """The limits of a ModelEndpoint row (its max_concurrency, rpm, tpm), held across workers."""
    return shared_limits(endpoint.pk, endpoint.max_concurrency, endpoint.rpm, endpoint.tpm)


def _store_maker(choice: str, ttl_s: float) -> tuple[str, Any]:
    if choice == "redis":
        from django.conf import settings

        from generation.limits.via_redis import RedisStore

        url = _setting("SEEDBED_LIMITS_REDIS_URL", str(settings.CELERY_BROKER_URL))
        return f"redis {url} {ttl_s}", lambda: RedisStore(url, ttl_s)
    if choice == "postgres":
        from generation.limits.via_postgres import PostgresStore

        info = postgres_conninfo()
        return f"postgres {sorted(info.items())} {ttl_s}", lambda: PostgresStore(info, ttl_s)
    raise ValueError(f"unknown limits backend {choice!r}")


def limits_with(store: Store, endpoint_id: int, max_concurrency: int, **buckets: Any) -> Limits:
    """Limits on a store made by hand (tests, benchmarks): no Django settings involved."""
    return SharedLimits(lambda: store, endpoint_id, max_concurrency, **buckets)
