"""SPIN: qa seeds with gold answers; the model answers in other words, and the optional judge
compares both orders (two steps an item, so short slices cut items mid-way)."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"Two replies were written", "Answer: (A)")
    fake.script(r"^Describe ", lambda body: f"Perhaps {words(tick() + 500)}.")


SEEDS = "\n".join(
    json.dumps({"question": f"Describe {words(n, 4)}.", "answer": f"Gold {words(n + 100)}."})
    for n in range(14)
).encode()
CASE = Case(script, {"judge_pairs": True}, SEEDS)
