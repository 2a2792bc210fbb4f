"""I-SHEEP: distinct new tasks, plain answers, both self-scores 9 or 10; the perplexity
windows are scored (the fake serves prompt logprobs) but wide, so none drops."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"Rate the quality of the response", "9||Correct and to the point.")
    fake.script(r"Rate how well the response follows", "10||It answers directly.")
    fake.script(
        r"Write task \d+: one new task",
        lambda body: f"Explain how {words(tick())} relate.\n4. Input:\n<noinput>",
    )
    fake.script(r"^Explain how", lambda body: f"They relate through {words(tick())}.")


WIDE = {"prompt_ppl_min": 1.0, "prompt_ppl_max": 1000.0, "output_ppl_min": 1.0}
CASE = Case(script, {**WIDE, "output_ppl_max": 1000.0})
