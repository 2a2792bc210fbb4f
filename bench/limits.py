"""Benchmark: what the limiter costs per LLM call, in-process against Postgres against Redis.

Each backend of `generation.limits` runs the same work in one event loop, side by side
(rounds alternate the backends, so drift on a busy machine hits all three alike):

- `slot`: `async with limits.slot(): pass`, one after another: acquire + release;
- `take`: `await limits.take(100)` with rpm and tpm set so high that nobody waits: the
  two bucket reservations one request makes;
- `concurrent`: 64 coroutines each doing take + slot in a loop (64 slots): calls/s when
  a worker's whole concurrency goes through one connection.

Postgres is a throw-away embedded one (migrated, as tests/conftest.py's); Redis is Debian's
redis-server on loopback (its row is null without one). Times are per call, in ms.

    .venv/bin/python bench/limits.py [--calls 2000]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._pg import database_url, start_postgres  # noqa: E402

BIG = 10**12  # rpm and tpm that never make anyone wait
CONCURRENCY = 64


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(op: Callable[[], Awaitable[None]], calls: int) -> list[float]:
    spent = []
    for _ in range(calls):
        start = time.perf_counter()
        await op()
        spent.append((time.perf_counter() - start) * 1000)
    return spent


async def concurrent(limits: Any, calls: int) -> float:
    async def worker() -> None:
        for _ in range(calls // CONCURRENCY):
            await limits.take(100)
            async with limits.slot():
                pass

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return (calls // CONCURRENCY * CONCURRENCY) / (time.perf_counter() - start)


async def measure(backends: dict[str, Any], calls: int, rounds: int) -> dict[str, Any]:
    from generation.limits import close_stores

    slot: dict[str, list[float]] = {name: [] for name in backends}
    take: dict[str, list[float]] = {name: [] for name in backends}
    rate: dict[str, list[float]] = {name: [] for name in backends}
    for limits in backends.values():  # connect, prepare statements, load scripts
        await timed(lambda limits=limits: slot_once(limits), 50)
        await timed(lambda limits=limits: limits.take(100), 50)
    names = list(backends)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            limits = backends[name]
            slot[name] += await timed(lambda limits=limits: slot_once(limits), calls // rounds)
            take[name] += await timed(lambda limits=limits: limits.take(100), calls // rounds)
            rate[name].append(await concurrent(limits, calls // rounds))
    await close_stores()
    return {
        name: {
            "slot_p50_ms": round(percentile(slot[name], 0.5), 3),
            "slot_p95_ms": round(percentile(slot[name], 0.95), 3),
            "slot_calls_per_s": round(1000 * len(slot[name]) / sum(slot[name])),
            "take_p50_ms": round(percentile(take[name], 0.5), 3),
            "take_p95_ms": round(percentile(take[name], 0.95), 3),
            "take_calls_per_s": round(1000 * len(take[name]) / sum(take[name])),
            "concurrent_calls_per_s": round(sum(rate[name]) / len(rate[name])),
        }
        for name in backends
    }


async def slot_once(limits: Any) -> None:
    async with limits.slot():
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="per backend and measure")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    from tests.multiworker.redis_server import redis_binary, redis_server

    with tempfile.TemporaryDirectory(prefix="sbl-") as tmp:
        server, host, port = start_postgres(Path(tmp))
        redis = redis_binary()
        try:
            env = {
                "DJANGO_SETTINGS_MODULE": "curation.settings",
                "SEEDBED_SKIP_ENV_FILE": "1",
                "DEBUG": "1",
                "SECRET_KEY": "bench-limits-secret-key-0123456789-abcdefghijklmnop",
                "CELERY_BROKER_URL": "memory://",
                "DATABASE_URL": database_url(host, port),
                "SEEDBED_LOCAL_MODEL": "off",
                "LOG_LEVEL": "WARNING",
            }
            os.environ.update(env)
            import django

            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
            if redis is None:
                print("no redis-server: the redis row is null", file=sys.stderr)
                figures = run_all(args, None)
            else:
                with redis_server(redis, Path(tmp) / "redis") as url:
                    figures = run_all(args, url)
        finally:
            server.cleanup()
    print(json.dumps(figures))


def run_all(args: argparse.Namespace, redis_url: str | None) -> dict[str, Any]:
    from generation.limits import shared_limits

    def make(backend: str) -> Any:
        return shared_limits(1, CONCURRENCY, BIG, BIG, backend=backend)

    async def go() -> dict[str, Any]:
        backends = {"local": make("local"), "postgres": make("postgres")}
        if redis_url is not None:
            os.environ["SEEDBED_LIMITS_REDIS_URL"] = redis_url
            backends["redis"] = make("redis")
        return await measure(backends, args.calls, args.rounds)

    figures: dict[str, Any] = {"bench": "limits", "calls": args.calls, "cores": os.cpu_count()}
    figures |= {"local": None, "postgres": None, "redis": None} | asyncio.run(go())
    return figures


if __name__ == "__main__":
    main()
