"""One worker process for the multi-process limiter tests: prints what it saw as JSON.

    python -m tests.limits.hammer '<spec JSON>' slots ENDPOINT MAX TASKS ROUNDS HOLD_S
    python -m tests.limits.hammer '<spec JSON>' takes ENDPOINT RPM TAKES
    python -m tests.limits.hammer '<spec JSON>' hold ENDPOINT MAX HOLD

`slots` prints the [start, end] (time.monotonic, the same clock in every process) of every
slot it held; `takes` the time each take returned; `hold` takes HOLD slots, prints "held"
and waits to be killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from generation.limits import limits_with
from generation.limits.shared import Store


def make_store(spec: dict[str, Any]) -> Store:
    if spec["backend"] == "postgres":
        from generation.limits.via_postgres import PostgresStore

        return PostgresStore(spec["conninfo"], spec["ttl_s"])
    from generation.limits.via_redis import RedisStore

    return RedisStore(spec["url"], spec["ttl_s"])


async def slots(
    store: Store, endpoint: int, most: int, tasks: int, rounds: int, hold: float
) -> Any:
    limits = limits_with(store, endpoint, most)
    spans: list[list[float]] = []

    async def one() -> None:
        for _ in range(rounds):
            async with limits.slot():
                start = time.monotonic()
                await asyncio.sleep(hold)
                spans.append([start, time.monotonic()])

    await asyncio.gather(*(one() for _ in range(tasks)))
    return spans


async def takes(store: Store, endpoint: int, rpm: int, count: int) -> Any:
    limits = limits_with(store, endpoint, 1000, rpm=rpm)
    done: list[float] = []

    async def one() -> None:
        await limits.take(1)
        done.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))
    return done


async def hold(store: Store, endpoint: int, most: int, count: int) -> None:
    limits = limits_with(store, endpoint, most)
    held = [limits.slot() for _ in range(count)]
    for slot in held:
        await slot.__aenter__()
    print("held", flush=True)
    await asyncio.Event().wait()


async def main(argv: list[str]) -> None:
    store = make_store(json.loads(argv[0]))
    mode, numbers = argv[1], [float(a) for a in argv[2:]]
    ints = [int(n) for n in numbers]
    try:
        if mode == "slots":
            result = await slots(store, *ints[:4], numbers[4])
        elif mode == "takes":
            result = await takes(store, *ints[:3])
        else:
            await hold(store, *ints[:3])
        print(json.dumps(result), flush=True)
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
