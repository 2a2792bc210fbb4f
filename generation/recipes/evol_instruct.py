"""Evol-Instruct / WizardLM (METHODS.md #11): operator-based rewriting with elimination.

Each round, every instruction in the pool is evolved once: ① pick one operator uniformly
from 5 in-depth {add constraints, deepening, concretizing, increase reasoning steps,
complicate input} and 1 in-breadth {mutation} → ② GEN the rewrite → ③ GEN its response →
④ elimination → ⑤ a success joins the next round's pool; a failure puts its parent back
into the next round's pool. M = 4 rounds. Lineage: parent, operator and round per sample.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from generation.recipes.base import (
    Outcome,
    Recipe,
    RecipeParams,
    RunContext,
    SampleDraft,
    Skip,
    Step,
)
from generation.recipes.dedup_step import EmbeddingDedup
from generation.recipes.self_rewarding import seed_instruction

DEPTH_OPS = ("add_constraints", "deepening", "concretizing", "reasoning", "complicate_input")
BREADTH_OPS = ("mutation",)
OPERATORS = DEPTH_OPS + BREADTH_OPS
FORBIDDEN = ("#the given prompt#", "#rewritten prompt#", "given prompt", "rewritten prompt")
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have i if in into is it its me my no not of "
    "on or our so such that the their then there these they this to was we were what when "
    "which will with you your yes ok okay".split()
)


class Params(RecipeParams):
    rounds: int = Field(4, ge=1, le=10, description="Evolution rounds (M).")
    evolve_temperature: float = Field(1.0, ge=0.0, le=2.0)
    response_temperature: float = Field(0.7, ge=0.0, le=2.0)
    equality_check: bool = Field(
        True, description="Rule (a): drop rewrites with no information gain."
    )
    max_tokens: int = Field(1024, ge=16, le=8192)
    dedup_e: Literal["off", "flag", "drop"] = Field(
        "off",
        description="DEDUP-E: compare each evolved instruction with the run's pool (local "
        "MiniLM); drop near-copies (their parent is re-queued) or flag them.",
    )
    dedup_e_threshold: float = Field(0.95, gt=0.0, le=1.0, description="Cosine for DEDUP-E.")


def eliminate(instruction: str, response: str | None) -> str | None:
    """Rules (b)-(d): the reason a rewrite is eliminated, or None. Rule (a) needs the LLM."""
    lowered = instruction.lower()
    if not instruction.strip() or any(f in lowered for f in FORBIDDEN):
        return "copied_template_words"
    if response is None:
        return None
    words = re.findall(r"[A-Za-z0-9']+", response)
    if "sorry" in response.lower() and len(words) < 80:
        return "sorry_short"
    if all(w.lower() in STOP_WORDS for w in words):
        return "response_only_stopwords"
    return None


class EvolInstruct(Recipe):
    id = "evol_instruct"
    name = "Evol-Instruct"
    entry = 11
    output_kind = "sft"
    version = "1"
    summary = "Evolve instructions round by round with 5 in-depth and 1 in-breadth operators."
    Params: ClassVar[type[RecipeParams]] = Params
    steps = (
        Step("SAMPLE", "operator", "One of 6 operators, uniformly."),
        Step("GEN", "evolve", "Rewrite the instruction (adds 10-20 words)."),
        Step("CHECK", "template_words", "Rule (d): no copied template words."),
        Step("GEN", "respond", "Answer the evolved instruction."),
        Step("CHECK", "elimination", "Rules (b), (c): short 'sorry', stop-words only."),
        Step("JUDGE", "equal", "Rule (a): no information gain vs the parent."),
        Step("DEDUP-E", "near_copy", "Optional: cosine vs the run's pool; drop or flag."),
        Step("FMT", "sft", "instruction → response, with parent, operator and round."),
    )
    deviations = (
        "All five in-depth operators are wired (the public script wires four).",
        "Prompt wording is ours; operator definitions follow the paper.",
        "Temperatures are configurable defaults (evolve 1.0, respond 0.7), not published values.",
        "DEDUP-E (off by default; not in the paper): an embedding near-copy check whose drops "
        "count as eliminations.",
    )

    async def run_slice(self, ctx: RunContext) -> None:
        if not ctx.seeds:
            raise ValueError("Evol-Instruct needs a seed set of instructions.")
        self.ctx = ctx
        p: Params = ctx.params
        self.dedup: EmbeddingDedup | None = None
        if p.dedup_e != "off":
            self.dedup = EmbeddingDedup(p.dedup_e_threshold)
            pool = await ctx.samples_of_run()
            await self.dedup.seed(
                [f"p{s['id']}" for s in pool], [s["extra"].get("instruction", "") for s in pool]
            )
        while not ctx.should_stop():
            r = int(ctx.state.get("round", 0))
            if r >= p.rounds:
                ctx.mark_exhausted()
                return
            parents = await self._pool(r)
            finished = await ctx.process(
                ((f"ev:r{r}:{ref}", (r, ref, text, seeds)) for ref, text, seeds in parents),
                self._one,
            )
            if not finished:
                return  # out of time or target reached: the next slice resumes this round
            ctx.state["round"] = r + 1
            await ctx.commit([])

    async def _pool(self, r: int) -> list[tuple[str, str, list[int]]]:
        """Round r's parents: the seeds, or round r-1's successes plus its failed parents."""
        if r == 0:
            return [
                (f"s{s.id}", seed_instruction(s.payload, s.text), [s.id]) for s in self.ctx.seeds
            ]
        prev = await self.ctx.samples_of_run(extra__round=r - 1)
        parents = [(f"p{s['id']}", s["extra"]["instruction"], s["seed_ids"]) for s in prev]
        for item in await self.ctx.skips_of_run(f"ev:r{r - 1}:"):
            d = item["detail"]
            parents.append((d["parent_ref"], d["parent_instruction"], d["seed_ids"]))
        return parents

    async def _one(self, key: str, item: tuple[int, str, str, list[int]]) -> Outcome:
        ctx = self.ctx
        p: Params = ctx.params
        r, ref, parent_text, root_seeds = item
        op = random.Random(f"{ctx.run_id}:{key}").choice(OPERATORS)
        if op in DEPTH_OPS:
            method = ctx.prompts[f"op_{op}"].render().strip()
            text = ctx.prompts["depth_common"].render(method=method, instruction=parent_text)
        else:
            text = ctx.prompts["breadth"].render(instruction=parent_text)
        evolved = await ctx.llm.complete(
            [{"role": "user", "content": text}],
            temperature=p.evolve_temperature,
            max_tokens=p.max_tokens,
        )
        instruction = evolved.texts[0].strip()
        carry = {
            "parent_ref": ref,
            "parent_instruction": parent_text,
            "op": op,
            "round": r,
            "seed_ids": root_seeds,
        }
        reason = eliminate(instruction, None)
        if reason:
            return Skip(key, "filtered", reason, detail=_detail(carry))
        answer = await ctx.llm.complete(
            [{"role": "user", "content": ctx.prompts["respond"].render(instruction=instruction)}],
            temperature=p.response_temperature,
            max_tokens=p.max_tokens,
        )
        response = answer.texts[0].strip()
        reason = eliminate(instruction, response)
        if reason is None and p.equality_check:
            verdict = await ctx.judge_llm.complete(
                [
                    {
                        "role": "user",
                        "content": ctx.prompts["equal"].render(
                            first=parent_text, second=instruction
                        ),
                    }
                ],
                purpose="judge",
                temperature=0.0,
                max_tokens=8,
                model=ctx.judge_model or None,
            )
            said = verdict.texts[0].strip().lower()
            if said.startswith("equal"):
                reason = "no_information_gain"
        if reason:
            return Skip(key, "filtered", reason, detail=_detail(carry))
        extra: dict[str, Any] = {**carry, "instruction": instruction}
        if self.dedup is not None:
            near = await self.dedup.admit(key, instruction)
            if near.duplicate and p.dedup_e == "drop":
                return Skip(key, "filtered", "near_duplicate", detail=_detail(carry))
            if near.duplicate:
                extra["dedup_e"] = {"nearest": near.nearest, "cosine": near.similarity}
        parent_id = int(ref[1:]) if ref.startswith("p") else None
        return [
            SampleDraft(
                work_key=key,
                kind="sft",
                messages=[
                    {"role": "user", "content": instruction},
                    {"role": "assistant", "content": response},
                ],
                step=f"evolve:{op}",
                prompt_version=(
                    ctx.prompts[f"op_{op}"].version
                    if op in DEPTH_OPS
                    else ctx.prompts["breadth"].version
                ),
                model=ctx.model,
                seed_ids=root_seeds,
                parent_id=parent_id,
                extra=extra,
                tokens_in=evolved.tokens_in + answer.tokens_in,
                tokens_out=evolved.tokens_out + answer.tokens_out,
            )
        ]


def _detail(carry: dict[str, Any]) -> str:
    import json

    return json.dumps(carry, ensure_ascii=False)
