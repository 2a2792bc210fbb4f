"""GRA: the bench's instruction seeds; keywords and pairs that differ call by call, reviewers
who agree on a high score, and metadata the reader understands."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"^Read the example task", lambda body: f"Keywords: {words(tick(), 5)}\n"
                f"Summary: A task about {words(tick(), 3)}.")  # fmt: skip
    fake.script(r"^You write new training data", lambda body: f"Instruction: Describe "
                f"{words(tick())} in detail.\nResponse: It is {words(tick())}.")  # fmt: skip
    fake.script(r"^You review training data", "Clear and correct. Score: 9")
    fake.script(r"^You are the adjudicator", "Fine.\nDecision: accept")
    fake.script(r"^Classify the task", "Domain: writing\nDifficulty: easy")


CASE = Case(script, {"n_reviewers": 2})
