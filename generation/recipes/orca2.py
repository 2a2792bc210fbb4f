"""Orca 2 (METHODS.md #10): explanation-rich answers from a teacher, with prompt erasure.

① choose a reasoning strategy per task (a documented rule, orca2_strategies.choose; or
fixed by a param) → ② GEN the teacher's answer under that strategy's detailed system
prompt → ③ CHECK the final answer against the gold answer where the seed has one (a miss
tries the next strategy, `strategy_retries` times) → ④ FMT with prompt erasure: the stored
row carries a generic system prompt; the strategy prompt goes to
extra["erased_system_prompt"], so the student learns to pick the strategy untold. Training
the student happens outside Seedbed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import answers, fmt
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.orca2_strategies import choose, fallbacks

Strategy = Literal[
    "auto",
    "step_by_step",
    "recall_then_generate",
    "recall_reason_generate",
    "extract_generate",
    "direct_answer",
]
STUDENT = kit.Role("policy", "The student's endpoint; the teacher defaults to it.")
TEACHER = kit.Role("teacher", "The strong model that writes the explanations.", False, "policy")


class Params(RecipeParams):
    strategy: Strategy = Field(
        "auto", description="auto: a rule picks per task (see the recipe page); else this one."
    )
    strategy_retries: int = Field(
        1, ge=0, le=4, description="After a miss against the gold answer, other strategies tried."
    )
    generic_system_prompt: str = Field(
        "You are a helpful assistant.",
        description="The system prompt stored with every row (prompt erasure); empty: none.",
    )
    check_gold: bool = Field(True, description="Drop answers that miss the seed's gold answer.")
    answer_kind: answers.Kind = Field("auto", description="How answers are compared with gold.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Teacher sampling.")
    max_tokens: int = Field(1024, ge=16, le=8192)


def gold_of(seed: SeedRow) -> str | None:
    answer = seed.payload.get("answer") if seed.kind == "qa" else None
    return str(answer).strip() if answer not in (None, "") else None


@kit.register
class Orca2(kit.Recipe[Params]):
    meta = kit.Meta(
        "orca2", "Orca 2", entry=10, version="1", output="sft", section="distillation",
        summary="A teacher answers each task with a chosen reasoning strategy; the rows keep "
        "only a generic system prompt (prompt erasure).",
        inputs=frozenset({"instruction", "qa"}), roles=(STUDENT, TEACHER),
        needs=(kit.Need("MM", "a teacher stronger than the student",
                        "the policy endpoint teaches itself", role="teacher"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "strategy", "Per task by rule: step-by-step, recall-then-generate, ..."),
        Step("GEN", "task", "The teacher answers under the strategy's detailed system prompt."),
        Step("CHECK", "gold", "The final answer matches the gold answer (a miss tries another)."),
        Step("FMT", "erasure", "Stored with a generic system prompt; the strategy one in extra."),
    )
    deviations = (
        "Strategies are chosen per task by a documented rule (auto) or fixed by a param; the "
        "paper picks one per task cluster by measuring which works best for the teacher. A "
        "miss against the gold answer tries the next strategy (strategy_retries).",
        "The five strategy system prompts and the generic one are our wording; with a gold "
        "answer the strategy prompt also asks for a closing 'The answer is: ...' line, so the "
        "answer can be checked (it is erased with the rest).",
        "No FLAN-v2 collection ships: tasks are the run's seeds. Student training (the "
        "paper's 7B/13B fine-tunes) happens outside Seedbed.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("orca2", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p, seed = it.params, it.payload
        it.use_seeds(seed)
        prompt, gold = seed_prompt(seed), gold_of(seed)
        first, why = (p.strategy, "set by the run") if p.strategy != "auto" else choose(seed)
        tried: list[dict[str, Any]] = []
        for strategy in fallbacks(first, p.strategy_retries if gold else 0):
            template = it.host.prompts[f"strategy_{strategy}"]
            system = template.render().strip()
            if gold is not None:
                system += "\n\n" + it.host.prompts["answer_format"].render().strip()
            made = await it.gen("task", role="teacher", system=system, prompt=prompt,
                                temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
            reply = made.text.strip()
            it.check(bool(reply), "empty_answer")
            it.check(not made.truncated, "truncated")
            said = answers.extract(reply, p.answer_kind) if gold is not None else None
            correct = None if gold is None else answers.matches(said, gold, p.answer_kind)
            tried.append({"strategy": strategy, "answer": said, "correct": correct})
            if correct is not False or not p.check_gold:
                break
        it.check(correct is not False or not p.check_gold, "wrong_answer", f"{said!r} ≠ {gold!r}")
        extra: dict[str, Any] = {
            "erased_system_prompt": system,
            "metadata": {"strategy": strategy, "chosen_by": why,
                         "strategy_prompt": f"strategy_{strategy}",
                         "strategy_prompt_version": template.version, "tried": tried},
            "tags": [strategy],
        }  # fmt: skip
        if gold is not None:
            extra |= {"gold": gold, "answer": said, "correct": correct}
        return fmt.sft(prompt, reply, system=p.generic_system_prompt.strip() or None,
                       step=f"teacher:{strategy}", extra=extra, role="teacher")  # fmt: skip
