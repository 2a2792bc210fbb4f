"""Toolformer: fourteen short texts with numbers, the calculator alone; each item's sampled
call is a distinct sum, and τf = −10 keeps it whatever the fake's hashed prompt logprobs
say (they give every position P("[") above τs)."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()

    def calls(body: dict[str, Any]) -> list[str]:
        n = int(body.get("n") or 1)
        if not str(body.get("prompt") or "").endswith("[Calculator("):
            return [""] * n  # a scoring call's one generated token
        return [f"{(k := tick())} + {k})" for _ in range(n)]

    fake.script(r"asks a Calculator", calls)


SEEDS = "\n".join(
    json.dumps({"text": f"In {2000 + n} the {words(n, 2)} cost {n * 7 + 3} coins."})
    for n in range(14)
).encode()
CASE = Case(
    script,
    {"tools": ["calculator"], "top_k": 1, "calls_per_position": 1, "weight_decay": 0.5,
     "tau_f": -10.0},
    SEEDS,
)  # fmt: skip
