"""LMSI: qa seeds; every path agrees, one path a request, so an item outlasts a short slice."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()

    def paths(body: dict[str, Any]) -> list[str]:
        return [
            f"Counting {words(tick(), 5)}.\nThe answer is 7." for _ in range(body.get("n") or 1)
        ]

    fake.script(r"\nA:\s*$", paths)


SEEDS = "\n".join(
    json.dumps({"question": f"How many days are in a week of {words(n, 2)}?", "answer": "7"})
    for n in range(12)
).encode()
# 40 paths one per request against 8 endpoint slots: five rounds, longer than a 0.5 s slice
# and its grace, so the item is cut and resumes with the paths it had.
CASE = Case(script, {"m": 40, "paths_per_call": 1, "few_shot": 2}, SEEDS)
