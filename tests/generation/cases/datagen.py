"""DataGen: the bench's instruction seeds; attributes given, distinct items, judged 4 of 5."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"^Review one item", "Clear and correct. Score: 4")
    fake.script(
        r"^You are writing one new item",
        lambda body: f"Instruction: Describe {words(tick(), 6)}.\nResponse: It is {words(tick())}.",
    )


CASE = Case(script, {"attributes": "topic: nature, tools; length: short, long", "few_shot": 2})
