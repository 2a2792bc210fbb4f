"""STaR: Self-Taught Reasoner (METHODS.md #1), one round.

① GEN a rationale and answer for a question, greedy, after worked exemplars → ② CHECK the
answer against the gold one (kit/answers.py) → ③ for a miss, GEN again with the gold answer
as a hint (rationalization) → ④ CHECK again; a rationalization that still misses is dropped
→ ⑤ FMT question → rationale + answer. The stored prompt is always the plain question: the
hint never reaches the data. The bootstrapping loop fine-tunes between rounds (from the base
model each time): a new round is a new run against the newly trained endpoint.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import answers, fmt
from generation.recipes.star_exemplars import (
    Exemplar,
    WithExemplars,
    render,
    reply_of,
)

_ANSWER_IS = re.compile(r"\bthe answer is\b", re.IGNORECASE)
_HINT = re.compile(r"\bhint", re.IGNORECASE)


class Params(RecipeParams):
    exemplars: int = Field(
        10, ge=1, le=20, description="Worked exemplars shown: the seeds' own first, then built-in."
    )
    answer_kind: answers.Kind = Field(
        "auto", description="How answers are read and matched to the gold answer (auto: by gold)."
    )
    rationalize: bool = Field(True, description="Step ③: retry a miss with the answer as a hint.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy, as in the paper.")
    max_tokens: int = Field(384, ge=16, le=4096)


def rationale_of(reply: str) -> str:
    """The reasoning before the final "The answer is …" line."""
    parts = _ANSWER_IS.split(reply)
    return parts[0].strip() if len(parts) > 1 else reply


@kit.register
class STaR(WithExemplars, kit.Recipe[Params]):
    meta = kit.Meta(
        "star", "STaR (Self-Taught Reasoner)", entry=1, version="1", output="sft",
        section="self_play", inputs=frozenset({"qa"}), roles=(kit.POLICY,),
        summary="Rationales for questions with gold answers: kept when the answer is right; "
        "a miss is retried with the gold answer as a hint that the stored prompt never shows.",
    )  # fmt: skip
    steps = (
        Step("GEN", "answer", "Rationale and answer after worked exemplars, greedy."),
        Step("CHECK", "gold", "The extracted answer matches the gold answer (normalised)."),
        Step("GEN", "rationalize", "For a miss: the same, with the gold answer as a hint."),
        Step("CHECK", "gold_again", "Still a miss (or the reply mentions the hint): dropped."),
        Step("FMT", "sft", "Plain question → rationale + answer; rationalized true/false."),
    )
    deviations = (
        "One round only: the bootstrapping loop fine-tunes (from the base model each round) "
        "between rounds; a new round is a new run against the trained endpoint.",
        "Exemplars are the seed set's own worked examples (qa seeds with a rationale), topped "
        "up with 10 built-in generic exemplars of ours, instead of the paper's hand-written "
        "task-specific ones; prompt wording is ours.",
        "Seedbed adds a filter: a rationalization that mentions the hint is dropped, so the "
        "stored reasoning does not lean on an answer the stored prompt does not show.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("star", run.seeds)

    def shots(self, it: kit.Item[Params], seed: SeedRow) -> list[Exemplar]:
        k = it.params.exemplars
        return [*itertools.islice(self.own_exemplars(seed.id), k), *self.builtin][:k]

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed: SeedRow = it.payload
        it.use_seeds(seed)
        question = str(seed.payload.get("question") or "").strip()
        gold = str(seed.payload.get("answer") or "").strip()
        it.check(bool(question and gold), "no_question_or_gold")
        kind = answers.kind_of(gold) if p.answer_kind == "auto" else p.answer_kind
        shots = self.shots(it, seed)
        ask: dict[str, Any] = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        ask |= {"question": question, "stop": ["\nQ:"]}

        def right(reply: str) -> bool:
            return answers.matches(answers.extract(reply, kind), gold, kind)

        first = await it.gen("answer", exemplars=render(shots), **ask)
        reply, rationalized = reply_of(first.text), False
        if not right(reply):
            it.check(p.rationalize, "wrong_answer")
            shown = render(shots, hint=True)
            hinted = await it.gen("rationalize", exemplars=shown, hint=gold, **ask)
            reply, rationalized = reply_of(hinted.text), True
            it.check(right(reply), "rationalization_missed")
            it.check(not _HINT.search(reply), "mentions_hint")
        extra = {
            "rationale": rationale_of(reply),
            "gold": gold,
            "rationalized": rationalized,
            "answer": answers.extract(reply, kind),
            "metadata": {"answer_kind": kind, "exemplars": len(shots)},
        }
        step = "rationalize" if rationalized else "answer"
        return fmt.sft(question, reply, step=step, extra=extra)
