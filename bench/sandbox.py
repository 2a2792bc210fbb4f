"""Benchmark: what one sandboxed call costs beyond the program itself.

A trivial program (`def solve(n): return n + 1`) is run `--calls` times, one after another,
in each way the sandbox can run it:

- `ns_warm`: namespace isolation with runners started ahead of need (the default, warm=2);
- `ns_fresh`: namespace isolation, a runner started for each call (warm=0);
- `guard_warm`, `guard_fresh`: the same with the guard instead of namespaces.

Per call it records the caller's elapsed time (`Result.elapsed_s`); overhead = elapsed
minus the program's own wall time. `--gap-ms` waits between calls, as a recipe does while
its next model call runs: that idle time is when warm runners are started. Then
`--calls` calls at once through the async API, `concurrency` at a time: calls per second.
Namespace rows are null where the kernel gives no namespaces (`namespaces: false`).

    .venv/bin/python bench/sandbox.py [--calls 200] [--gap-ms 20]

Prints one JSON line. Exits 1 if any trivial call failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.sandbox import Config, Limits, Result, pool

TRIVIAL = "def solve(n):\n    return n + 1\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sequential(box: pool.Sandbox, mode: str, calls: int, gap_s: float) -> dict[str, Any]:
    box.call_in(mode, TRIVIAL, [0], "solve", Limits())  # the first start-up is not a call's
    time.sleep(gap_s)
    elapsed, overhead, failed = [], [], 0
    for i in range(calls):
        result = box.call_in(mode, TRIVIAL, [i], "solve", Limits())
        failed += not (result.ok and result.value == i + 1)
        elapsed.append(result.elapsed_s * 1000)
        overhead.append((result.elapsed_s - result.wall_s) * 1000)
        time.sleep(gap_s)
    return {
        "p50_ms": round(percentile(elapsed, 0.5), 2),
        "p90_ms": round(percentile(elapsed, 0.9), 2),
        "overhead_p50_ms": round(percentile(overhead, 0.5), 2),
        "overhead_p90_ms": round(percentile(overhead, 0.9), 2),
        "program_p50_ms": round(
            statistics.median(e - o for e, o in zip(elapsed, overhead, strict=True)), 3
        ),
        "failed": failed,
    }


def concurrent(calls: int, config: Config) -> dict[str, Any]:
    box = pool.Sandbox(config)

    async def go() -> list[Result]:
        loop = asyncio.get_running_loop()
        return await asyncio.gather(
            *(loop.run_in_executor(box.executor, box.call, TRIVIAL, [i], "solve", Limits())
              for i in range(calls))
        )  # fmt: skip

    try:
        box.call(TRIVIAL, [0], "solve", Limits())
        started = time.perf_counter()
        results = asyncio.run(go())
        seconds = time.perf_counter() - started
    finally:
        box.close()
    failed = sum(not r.ok for r in results)
    return {"calls_per_s": round(calls / seconds, 1), "mode": box.mode(), "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=0, help="0: the default (CPUs)")
    args = parser.parse_args()
    defaults = Config()
    base = Config(concurrency=args.concurrency or Config.load().concurrency)
    probe = pool.Sandbox(Config(warm=0))
    namespaces = probe.mode() == "namespace"
    probe.close()
    rows: dict[str, Any] = {}
    for mode in ("namespace", "guard"):
        for warm in (defaults.warm, 0):
            name = f"{'ns' if mode == 'namespace' else mode}_{'warm' if warm else 'fresh'}"
            if mode == "namespace" and not namespaces:
                rows[name] = None
                continue
            box = pool.Sandbox(Config(isolation=mode, warm=warm, concurrency=base.concurrency))
            try:
                rows[name] = sequential(box, mode, args.calls, args.gap_ms / 1000)
            finally:
                box.close()
    rows["concurrent"] = concurrent(args.calls, base)
    failed = sum(r["failed"] for r in rows.values() if r)
    print(
        json.dumps(
            {
                "bench": "sandbox",
                "calls": args.calls,
                "gap_ms": args.gap_ms,
                "namespaces": namespaces,
                "concurrency": base.concurrency,
                **rows,
                "failed": failed,
            }
        )
    )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
