"""Instruction Backtranslation: document seeds; each gets a distinct instruction and top
ratings (a GEN and a JUDGE an item, so short slices cut items mid-way)."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"You are checking training data", "Score: 5\nA clear, focused answer.")
    fake.script(r"work backwards", lambda body: f"<request>Explain {words(tick(), 5)}.</request>")


SEEDS = "\n".join(
    json.dumps({"title": f"Note {n}", "text": " ".join(words(n * 7 + i) for i in range(5)) + "."})
    for n in range(14)
).encode()
CASE = Case(script, {"few_shot": 0}, SEEDS)
