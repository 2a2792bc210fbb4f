"""Worked few-shot exemplars (question, rationale, answer) for STaR, and for LMSI's CoT prompts.

They come from the seed set (qa seeds that carry a rationale) or from a recipe's built-in
`exemplars` template: JSON lines of {"question", "rationale", "answer"}, editable per project
like any prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from generation.recipes.base import SeedRow
from generation.recipes.prompts import PromptError

FIELDS = ("question", "rationale", "answer")


@dataclass(frozen=True)
class Exemplar:
    question: str
    rationale: str
    answer: str


class WithExemplars:
    """For recipes with an `exemplars` template: checked when overridden, parsed per slice."""

    builtin: list[Exemplar]
    seeded: list[tuple[int, Exemplar]]  # (seed id, exemplar), read once per slice

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        if name == "exemplars":
            parse_exemplars(text)

    async def setup(self, run: Any) -> None:
        self.builtin = parse_exemplars(run.prompts["exemplars"].text)
        self.seeded = seed_exemplars(run.seeds)

    def own_exemplars(self, skip: int) -> Iterator[Exemplar]:
        """The seed set's exemplars but the item's own question (`skip`), in seed order."""
        return (e for seed_id, e in self.seeded if seed_id != skip)


def parse_exemplars(text: str) -> list[Exemplar]:
    """The JSON lines of an exemplars template; PromptError names the first bad line."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            found.append(
                Exemplar(*(str(row[k]).strip() for k in ("question", "rationale", "answer")))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PromptError(
                f"line {number}: each line is a JSON object with question, rationale and answer"
            ) from exc
    if not found:
        raise PromptError("the exemplars template has no exemplar")
    return found


def seed_exemplars(seeds: Iterable[SeedRow]) -> list[tuple[int, Exemplar]]:
    """(seed id, exemplar) for the qa seeds that have a rationale."""
    return [
        (
            s.id,
            Exemplar(
                str(s.payload["question"]), str(s.payload["rationale"]), str(s.payload["answer"])
            ),
        )
        for s in seeds
        if s.payload.get("question") and s.payload.get("rationale") and s.payload.get("answer")
    ]


def reply_of(text: str) -> str:
    """The model's answer to the question asked: no "A:" it may echo, no next "Q:" after it."""
    text = re.sub(r"^\s*A:\s*", "", text)
    return re.split(r"\n\s*Q:", text, maxsplit=1)[0].strip()


def answer_line(answer: str) -> str:
    return f"The answer is {answer.strip().rstrip('.')}."


def render(exemplars: Iterable[Exemplar], *, hint: bool = False, cot: bool = True) -> str:
    """Q:/A: blocks: rationale then answer line (cot), or the answer line alone.

    With `hint`, each question carries its answer as a hint, as STaR's rationalization
    prompt shows it.
    """
    blocks = []
    for e in exemplars:
        question = f"{e.question} (Hint: the answer is {e.answer}.)" if hint else e.question
        reply = f"{e.rationale} {answer_line(e.answer)}" if cot else answer_line(e.answer)
        blocks.append(f"Q: {question}\nA: {reply}")
    return "\n\n".join(blocks)
