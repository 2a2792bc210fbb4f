"""AgentInstruct: the demo documents. The transformation agent writes forty distinct words,
each agent writes a distinct line, and the judge gives every response a 4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/documents.jsonl").read_bytes()
TRANSFORM = r"You are a content transformation agent"
INSTRUCTION = r"You are an instruction-writing agent"
SUGGEST = r"You are a Suggester agent"
EDIT = r"You are an Editor agent"
RESPOND = r"Answer the instruction using the text above"
JUDGE = r"Rate the response to an instruction"


def script(fake: Any) -> None:
    count = counter()
    fake.script(TRANSFORM, lambda _b: " ".join(words(count(), 8) for _ in range(5)) + ".")
    fake.script(INSTRUCTION, lambda _b: f"Explain how {words(count(), 7)} relate.")
    fake.script(SUGGEST, lambda _b: f"1. Add a constraint about {words(count(), 3)}.")
    fake.script(EDIT, lambda _b: f"Compare {words(count(), 7)} in two steps.")
    fake.script(RESPOND, lambda _b: f"They relate through {words(count(), 6)}.")
    fake.script(JUDGE, "Faithful and complete.\nScore: 4")


CASE = Case(script, {"types_per_item": 2, "refinements": 1, "judge_samples": 1}, SEEDS)
