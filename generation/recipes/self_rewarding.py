"""Self-Rewarding Language Models (METHODS.md #19), one round with a fixed model.

① GEN a new prompt from 8 seed examples → ② GEN×4 responses (T 0.7, top-p 0.9) →
③ JUDGE each with the additive 5-point rubric, 3 judge samples averaged; unparsable
judgements dropped → ④ PAIR the best against the worst, ties dropped → ⑤ FMT DPO.
The self-improvement loop needs DPO training between rounds; that is outside the app
(a new round is a new run against the newly trained endpoint).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import Field

from generation.judge import ADDITIVE_RUBRIC, judge_response
from generation.recipes.base import (
    JudgementDraft,
    Outcome,
    Recipe,
    RecipeParams,
    RunContext,
    SampleDraft,
    Skip,
    Step,
)


class Params(RecipeParams):
    generate_prompts: bool = Field(
        True, description="Step ①: write new prompts from seed examples (else use the seeds)."
    )
    few_shot: int = Field(8, ge=1, le=32, description="Seed examples shown per new prompt.")
    n_responses: int = Field(4, ge=2, le=16, description="Responses per prompt (N).")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    judge_samples: int = Field(3, ge=1, le=10, description="Judgements averaged per response.")
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=16, le=8192)


def pick_pair(scores: list[float | None]) -> tuple[int, int] | None:
    """(best, worst) indexes over the responses that were judged; None on a tie or too few."""
    judged = [(s, i) for i, s in enumerate(scores) if s is not None]
    if len(judged) < 2:
        return None
    best = max(judged, key=lambda p: (p[0], -p[1]))
    worst = min(judged, key=lambda p: (p[0], p[1]))
    if best[0] == worst[0]:
        return None
    return best[1], worst[1]


def seed_instruction(payload: dict[str, Any], text: str) -> str:
    """The prompt a seed stands for: its instruction and first input, or its first user turn."""
    if "instruction" in payload:
        first = (payload.get("instances") or [{}])[0]
        extra = first.get("input") or ""
        return f"{payload['instruction']}\n\n{extra}".strip()
    for m in payload.get("messages", []):
        if m.get("role") == "user" and m.get("content"):
            return str(m["content"])
    return text


class SelfRewarding(Recipe):
    id = "self_rewarding"
    name = "Self-Rewarding"
    entry = 19
    output_kind = "preference"
    version = "1"
    summary = (
        "One model writes prompts, answers them N times, judges its answers and pairs best "
        "vs worst."
    )
    Params: ClassVar[type[RecipeParams]] = Params
    steps = (
        Step("SAMPLE", "examples", "Draw few-shot examples from the seed set."),
        Step("GEN", "new_prompt", "Write a new prompt from the examples."),
        Step("GEN", "respond", "N responses at temperature 0.7, top-p 0.9."),
        Step("JUDGE", "additive_5pt", "Score each response 0-5, 3 samples averaged."),
        Step("PAIR", "best_vs_worst", "Highest against lowest score; ties dropped."),
        Step("FMT", "dpo", "prompt / chosen / rejected with both scores."),
    )
    deviations = (
        "The judge prompt's wording is ours; its five additive criteria follow the paper.",
        "Only one round: the DPO training between rounds happens outside Seedbed.",
    )

    async def run_slice(self, ctx: RunContext) -> None:
        p: Params = ctx.params
        if not ctx.seeds:
            raise ValueError("Self-Rewarding needs a seed set.")
        self.ctx = ctx
        if p.generate_prompts:
            # Deterministic item numbers: item k always means the same slot, so a resumed
            # run skips the stored ones. The bound only stops a run that filters everything.
            limit = 20 * ctx.target + 100
            items: Iterable[tuple[str, Any]] = ((f"sr:{k}", k) for k in range(limit))
        else:
            items = ((f"sr:seed:{s.id}", s) for s in ctx.seeds)
        if await ctx.process(items, self._one):
            ctx.mark_exhausted()

    async def _one(self, key: str, item: Any) -> Outcome:
        ctx = self.ctx
        p: Params = ctx.params
        if isinstance(item, int):
            rng = random.Random(f"{ctx.run_id}:{item}")
            examples = rng.sample(ctx.seeds, min(p.few_shot, len(ctx.seeds)))
            shown = "\n\n".join(
                f"Task {i}: {seed_instruction(s.payload, s.text)}"
                for i, s in enumerate(examples, 1)
            )
            made = await ctx.llm.complete(
                [{"role": "user", "content": ctx.prompts["new_prompt"].render(examples=shown)}],
                temperature=p.temperature,
                top_p=p.top_p,
                max_tokens=512,
            )
            prompt = made.texts[0].strip()
            seed_ids = [s.id for s in examples]
            tokens = (made.tokens_in, made.tokens_out)
        else:
            prompt = seed_instruction(item.payload, item.text)
            seed_ids = [item.id]
            tokens = (0, 0)
        if not prompt:
            return Skip(key, "filtered", "empty_prompt")
        answers = await ctx.llm.complete(
            [{"role": "user", "content": ctx.prompts["respond"].render(prompt=prompt)}],
            n=p.n_responses,
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
        )
        judged = await asyncio.gather(
            *(
                judge_response(
                    ctx.judge_llm,
                    prompt,
                    text,
                    samples=p.judge_samples,
                    temperature=p.judge_temperature,
                    model=ctx.judge_model or None,
                )
                for text in answers.texts
            )
        )
        pair = pick_pair([j.score for j in judged])
        if pair is None:
            reason = "tie" if sum(j.score is not None for j in judged) >= 2 else "unjudgeable"
            return Skip(key, "filtered", reason)
        best, worst = pair
        return [
            SampleDraft(
                work_key=key,
                kind="preference",
                messages=[{"role": "user", "content": prompt}],
                chosen=[{"role": "assistant", "content": answers.texts[best]}],
                rejected=[{"role": "assistant", "content": answers.texts[worst]}],
                step="best_vs_worst",
                prompt_version=ctx.prompts["respond"].version,
                model=ctx.model,
                seed_ids=seed_ids,
                extra={
                    "source": "ai_judge:self_rewarding",
                    "scores": [j.score for j in judged],
                    "chosen_score": judged[best].score,
                    "rejected_score": judged[worst].score,
                    "judge_samples": [j.scores for j in judged],
                    "new_prompt_version": ctx.prompts["new_prompt"].version,
                },
                tokens_in=tokens[0] + answers.tokens_in,
                tokens_out=tokens[1] + answers.tokens_out,
                judge_score=judged[best].score,
                judgements=[
                    JudgementDraft(
                        ctx.judge_model,
                        ADDITIVE_RUBRIC,
                        j.rubric_version,
                        j.score,
                        f"{role} response: {j.rationale}"[:4000],
                        "\n---\n".join(j.raw),
                    )
                    for role, j in (("chosen", judged[best]), ("rejected", judged[worst]))
                ],
            )
        ]
