"""SPIN's SFT rows: (the turns before the gold answer, the gold answer) from each seed kind,
and the "≈ gold" rule that skips a model answer carrying no signal.

The gold answer is the seed's text byte for byte: no strip, no re-formatting. What counts as
a gold response per kind:

- qa: the worked `solution` when the seed has one (a GSM8K answer keeps its full text there),
  else the `answer`. A `rationale` is not glued to the answer: that text would be ours.
- instruction: each instance's `output`; the prompt is the instruction, then its input.
- conversation: the last turn, when it is the assistant's; the turns before it are the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from generation.recipes.base import SeedRow
from generation.rouge import rouge_l

QaGold = Literal["solution", "answer"]
# CJK characters one by one (their words have no spaces), other letters and digits as runs.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")


@dataclass(frozen=True)
class SftRow:
    key: str
    seed: SeedRow
    context: list[dict[str, Any]]  # the turns before the gold answer
    gold: str
    gold_field: str  # where the gold answer came from
    final_answer: str = ""  # qa: the gold final answer, to see whether the model reached it
    problem: str = ""  # why the row cannot make a pair ("" when it can)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def single_turn(self) -> str | None:
        """The user's text when the prompt is one user turn, else None."""
        if len(self.context) == 1 and self.context[0]["role"] == "user":
            return str(self.context[0]["content"])
        return None

    def shown(self) -> str:
        """The prompt as a judge reads it: the user's text, or the turns with their roles."""
        one = self.single_turn
        return one if one is not None else "\n\n".join(
            f"{m['role']}: {m['content']}" for m in self.context
        )  # fmt: skip


def rows(seeds: Sequence[SeedRow], qa_gold: QaGold) -> Iterator[SftRow]:
    """Every SFT row of the seeds, in seed order; unusable ones carry their problem."""
    for seed in seeds:
        if seed.kind == "qa":
            yield _qa(seed, qa_gold)
        elif seed.kind == "instruction":
            yield from _instances(seed)
        elif seed.kind == "conversation":
            yield _conversation(seed)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _qa(seed: SeedRow, qa_gold: QaGold) -> SftRow:
    p = seed.payload
    question, answer, solution = (str(p.get(k) or "") for k in ("question", "answer", "solution"))
    use_solution = qa_gold == "solution" and bool(solution.strip())
    gold, where = (solution, "solution") if use_solution else (answer, "answer")
    problem = "" if question.strip() else "no_prompt"
    return SftRow(f"spin:{seed.id}:0", seed, _user(question), gold, where, answer, problem)


def _instances(seed: SeedRow) -> Iterator[SftRow]:
    instruction = str(seed.payload.get("instruction") or "")
    for i, instance in enumerate(seed.payload.get("instances") or []):
        given = str(instance.get("input") or "")
        prompt = f"{instruction}\n\n{given}" if given else instruction
        gold = str(instance.get("output") or "")
        problem = "" if instruction.strip() else "no_prompt"
        yield SftRow(f"spin:{seed.id}:{i}", seed, _user(prompt), gold, "output", "", problem)


def _conversation(seed: SeedRow) -> SftRow:
    turns = [m for m in seed.payload.get("messages") or [] if isinstance(m, dict)]
    last = turns[-1] if turns else {}
    context = [{"role": str(m.get("role")), "content": m.get("content")} for m in turns[:-1]]
    gold = last.get("content")
    problem = ""
    if last.get("role") != "assistant" or not isinstance(gold, str):
        problem = "last_turn_not_the_assistants"
    elif any(m.get("tool_calls") or m.get("role") == "tool" for m in turns):
        problem = "tool_turns"
    elif not any(m["role"] == "user" for m in context):
        problem = "no_prompt"
    elif not all(isinstance(m["content"], str) for m in context):
        problem = "content_not_text"
    text = gold if isinstance(gold, str) and last.get("role") == "assistant" else ""
    meta = {"turns": len(turns)}
    return SftRow(f"spin:{seed.id}:0", seed, context, text, "last_turn", "", problem, meta)


def squash(text: str) -> str:
    """The text with every run of whitespace made one space, and none at either end."""
    return " ".join(text.split())


def similarity(gold: str, output: str) -> float:
    """ROUGE-L F of the two texts over casefolded words (CJK by character), 0-1."""
    a, b = _TOKEN.findall(gold.casefold()), _TOKEN.findall(output.casefold())
    return round(rouge_l(a, b), 4)
