"""SELF-GUIDE: SuperGen's labelled sentiment examples; distinct new inputs, a label for each (four
inputs per item, answered one by one, so short slices cut items mid-way)."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words
from tests.generation.cases.supergen import SEEDS  # four labelled sentiment examples


def script(fake: Any) -> None:
    tick = counter()
    fake.script(
        r"Write one new input for the same task",
        lambda body: [f"A {words(tick(), 7)} visit." for _ in range(body.get("n") or 1)],
    )
    fake.script(r"Output:\s*$", lambda body: "positive" if tick() % 2 else "negative")


CASE = Case(script, {"inputs_per_item": 4}, SEEDS)
