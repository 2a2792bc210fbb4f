"""Self-Rewarding Language Models (METHODS.md #19), one round with a fixed model.

① SAMPLE 8 seed prompts → ② GEN a new prompt (Self-Instruct-style filters: not a copy of a
seed or of an earlier prompt) → ③ GEN×4 responses (T 0.7, top-p 0.9) → ④ JUDGE each with
the additive 5-point rubric, 3 samples averaged; unparsable judgements dropped → ⑤ PAIR
best vs worst, ties dropped → ⑥ FMT DPO. The self-improvement loop needs DPO training
between rounds: a new round is a new run against the newly trained endpoint.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.pairing import best_vs_worst
from generation.recipes.kit.seeds import seed_prompt

PROMPT_KINDS = frozenset({"instruction", "conversation", "text", "qa"})


class Params(RecipeParams):
    generate_prompts: bool = Field(
        True, description="Step ②: write new prompts from seed examples (else use the seeds)."
    )
    few_shot: int = Field(8, ge=1, le=32, description="Seed prompts shown per new prompt.")
    novelty_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="New prompts with ROUGE-L above this vs the pool drop."
    )
    n_responses: int = Field(4, ge=2, le=16, description="Responses per prompt (N).")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    judge_samples: int = Field(3, ge=1, le=10, description="Judgements averaged per response.")
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, ge=16, le=8192)


def first_task(text: str) -> str:
    """The new prompt, without the tags: chat models often open their reply with <task>."""
    text = re.sub(r"^\s*<task>", "", text)
    return re.split(r"</task>|<task>", text, maxsplit=1)[0].strip()


@kit.register
class SelfRewarding(kit.Recipe[Params]):
    meta = kit.Meta(
        "self_rewarding", "Self-Rewarding", entry=19, version="2", output="preference",
        section="preference", inputs=PROMPT_KINDS, roles=(kit.POLICY, kit.JUDGE),
        summary="One model writes prompts, answers them N times, judges its answers and "
        "pairs best vs worst.",
        needs=(kit.Need("N", "4 responses per prompt", "single requests in parallel (automatic)"),),
    )  # fmt: skip
    shared_prompts = ("additive_5pt",)
    steps = (
        Step("SAMPLE", "examples", "8 seed prompts as demonstrations."),
        Step("GEN", "new_prompt", "Write a new prompt from them."),
        Step("DEDUP-L", "novelty", "ROUGE-L ≤ 0.7 against the seeds and earlier prompts."),
        Step("GEN", "respond", "N responses at temperature 0.7, top-p 0.9."),
        Step("JUDGE", "additive_5pt", "Score each response 0-5, 3 samples averaged."),
        Step("PAIR", "best_vs_worst", "Highest against lowest score; ties dropped."),
        Step("FMT", "dpo", "prompt / chosen / rejected with both scores."),
    )
    deviations = (
        "The judge prompt's wording is ours; its five additive criteria follow the paper.",
        "New prompts: the paper's shape (8 sampled seed prompts as task demonstrations); the "
        "wording is ours. The novelty filter (ROUGE-L ≤ 0.7, no copies of seeds or earlier "
        "prompts) is Self-Instruct's, added by Seedbed; the paper does not specify one.",
        "Only one round: the DPO training between rounds happens outside Seedbed.",
    )

    async def setup(self, run: Any) -> None:
        run.rouge_pool("prompts", run.params.novelty_threshold, [seed_prompt(s) for s in run.seeds])

    def source(self, run: Any) -> Any:
        if run.params.generate_prompts:
            return kit.Source.numbered("sr")
        return kit.Source.per_seed("sr:seed", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        sampling: dict[str, Any] = {"temperature": p.temperature, "top_p": p.top_p}
        if isinstance(it.payload, SeedRow):
            it.use_seeds(it.payload)
            prompt = seed_prompt(it.payload)
        else:
            shown = await it.sample(it.seeds, p.few_shot)
            examples = "\n".join(f"<task>{seed_prompt(s)}</task>" for s in shown)
            made = await it.gen(
                "new_prompt", examples=examples, max_tokens=512, stop=["</task>"], **sampling
            )
            prompt = first_task(made.text)
            it.check(bool(prompt) and not made.truncated, "empty_prompt")
            novelty = await it.dedup_l("prompts", prompt)
            it.check(novelty.novel, "copies_seed_or_prompt", f"ROUGE-L {novelty.score}")
        answers = await it.gen(
            "respond", prompt=prompt, n=p.n_responses, max_tokens=p.max_tokens, **sampling
        )
        ask: dict[str, Any] = {"prompt": prompt, "samples": p.judge_samples}
        ask["temperature"] = p.judge_temperature
        judged = await asyncio.gather(
            *(it.judge("additive_5pt", response=text, **ask) for text in answers.texts)
        )
        scores = [j.score for j in judged]
        best, worst = best_vs_worst(scores)  # drops ties and unjudgeable items
        extra = {
            "source": "ai_judge:self_rewarding",
            "scores": scores,
            "chosen_score": scores[best],
            "rejected_score": scores[worst],
            "judge_samples": [j.scores for j in judged],
        }
        verdicts = [fmt.judgement("chosen", judged[best]), fmt.judgement("rejected", judged[worst])]
        return fmt.dpo(
            prompt, answers.texts[best], answers.texts[worst], step="best_vs_worst", extra=extra,
            prompt_version=answers.version, judge_score=scores[best], judgements=verdicts,
        )  # fmt: skip
