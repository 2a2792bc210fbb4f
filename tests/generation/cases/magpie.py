"""Magpie: no seeds read; the pre-query gets a fresh instruction, the judge rates it, the
responder answers. Three calls per item, longer than a 0.5 s slice at 0.25 s a call."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words

PRE_QUERY_END = r"<\|im_start\|>user\n$"


def script(fake: Any) -> None:
    tick = counter()
    fake.script(PRE_QUERY_END, lambda body: f"Explain how {words(tick(), 6)} shape a landscape.")
    fake.script(r"^Rate a query", "Difficulty: medium\nScore: 4")
    fake.script(r"^Explain how", lambda body: f"They work by {words(tick())}.")


CASE = Case(script, {"quality_judge": True})
