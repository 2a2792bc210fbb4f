"""Constitutional AI (METHODS.md #18): critique → revision chains, and AI preference labels.

SL-CAI: ① GEN a first response → ② SAMPLE a critique/revision principle, GEN critique →
③ GEN revision → ④ repeat with a fresh random principle (up to 4) → ⑤ FMT prompt → final
revision, with the whole chain in the sample's metadata.
RL-CAI: ⑥ GEN 2 responses; SAMPLE a comparison principle; JUDGE multiple choice (A)/(B);
the soft label p(A) comes from normalised token logprobs; without logprobs a hard label;
in chain-of-thought mode the probability is clamped to [0.4, 0.6]. → PAIR.
The constitution is an editable prompt template (JSON) of the recipe: overriding it per
project gives it a version like any other prompt.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from generation.llm import Completion
from generation.recipes.base import (
    Outcome,
    Recipe,
    RecipeParams,
    RunContext,
    SampleDraft,
    Skip,
    Step,
)
from generation.recipes.prompts import PromptError
from generation.recipes.self_rewarding import seed_instruction

COT_CLAMP = (0.4, 0.6)
_ANSWER_RE = re.compile(r"answer\s*(?:is)?\s*[:=]?\s*\(?\s*([AB])\s*\)?", re.IGNORECASE)


class Params(RecipeParams):
    mode: Literal["both", "sl", "rl"] = Field(
        "both", description="sl: critique/revision SFT rows; rl: AI preference pairs; both."
    )
    n_revisions: int = Field(4, ge=1, le=8, description="Critique/revision rounds per prompt.")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For the first response.")
    pair_temperature: float = Field(1.0, ge=0.0, le=2.0, description="For the two RL responses.")
    label_mode: Literal["logprobs", "cot", "hard"] = Field(
        "logprobs", description="How to turn the comparison into p(A)."
    )
    max_tokens: int = Field(768, ge=16, le=8192)


def parse_constitution(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(f"The constitution must be JSON: {exc}") from exc
    critiques = doc.get("critiques") if isinstance(doc, dict) else None
    comparisons = doc.get("comparisons") if isinstance(doc, dict) else None
    if not critiques or not all(
        isinstance(c, dict)
        and isinstance(c.get("critique"), str)
        and isinstance(c.get("revision"), str)
        for c in critiques
    ):
        raise PromptError(
            'The constitution needs "critiques": [{"critique": "...", "revision": "..."}, ...].'
        )
    if not comparisons or not all(isinstance(c, str) and c.strip() for c in comparisons):
        raise PromptError('The constitution needs "comparisons": ["Which response ...?", ...].')
    return {"critiques": critiques, "comparisons": comparisons}


def soft_label(completion: Completion) -> float | None:
    """p(A) from the first answer token's logprobs, normalised over A and B."""
    if not completion.logprobs or not completion.logprobs[0]:
        return None
    for token in completion.logprobs[0]:
        options = dict(token.top) or {token.token: token.logprob}
        options.setdefault(token.token, token.logprob)
        a = [lp for t, lp in options.items() if t.strip(" ()").upper() == "A"]
        b = [lp for t, lp in options.items() if t.strip(" ()").upper() == "B"]
        if a or b:
            pa = math.exp(max(a)) if a else 0.0
            pb = math.exp(max(b)) if b else 0.0
            return pa / (pa + pb) if pa + pb > 0 else None
    return None


def hard_label(text: str) -> float | None:
    match = _ANSWER_RE.findall(text) or re.findall(r"^\s*\(?([AB])\)?", text)
    if not match:
        return None
    return 1.0 if match[-1].upper() == "A" else 0.0


def clamp(p: float, bounds: tuple[float, float] = COT_CLAMP) -> float:
    return min(max(p, bounds[0]), bounds[1])


class ConstitutionalAI(Recipe):
    id = "constitutional_ai"
    name = "Constitutional AI"
    entry = 18
    output_kind = "sft+preference"
    version = "1"
    summary = (
        "Critique and revise responses against sampled principles (SFT), and label "
        "response pairs by principle with logprob soft labels (preference)."
    )
    Params: ClassVar[type[RecipeParams]] = Params
    steps = (
        Step("GEN", "respond", "A first response to the (red-team) prompt."),
        Step("SAMPLE", "principle", "A critique/revision pair from the constitution."),
        Step("GEN", "critique", "Critique the response against the principle."),
        Step("GEN", "revision", "Revise the response; repeat with a fresh principle."),
        Step("FMT", "sft", "prompt → final revision, chain in metadata."),
        Step("GEN", "pair", "Two responses for the preference label."),
        Step("JUDGE", "compare", "Multiple choice (A)/(B) under a comparison principle."),
        Step("PAIR", "soft_label", "p(A) from logprobs; CoT clamps to [0.4, 0.6]."),
    )
    deviations = (
        "Principles and few-shot examples are ours (16 + 16 principles; 2 critique examples "
        "instead of the paper's 5), written in the spirit of the published constitution.",
        "Comparisons use one sampled principle per pair, not an ensemble over principles.",
        "Responses come from the run's endpoint, not from a separately trained SL-CAI model.",
    )

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        if name == "constitution":
            parse_constitution(text)

    async def run_slice(self, ctx: RunContext) -> None:
        if not ctx.seeds:
            raise ValueError("Constitutional AI needs a seed set of prompts.")
        self.ctx = ctx
        self.constitution = parse_constitution(ctx.prompts["constitution"].text)
        per_item = 2.0 if ctx.params.mode == "both" else 1.0
        if await ctx.process(
            ((f"cai:{s.id}", s) for s in ctx.seeds), self._one, samples_per_item=per_item
        ):
            ctx.mark_exhausted()

    async def _one(self, key: str, seed: Any) -> Outcome:
        ctx = self.ctx
        p: Params = ctx.params
        rng = random.Random(f"{ctx.run_id}:{key}")
        prompt = seed_instruction(seed.payload, seed.text)
        drafts: list[SampleDraft] = []
        if p.mode in ("both", "sl"):
            drafts.append(await self._revise(key, seed.id, prompt, rng))
        if p.mode in ("both", "rl"):
            pair = await self._compare(key, seed.id, prompt, rng)
            if isinstance(pair, Skip):
                if not drafts:
                    return pair
                ctx.count_filtered(pair.reason)
            else:
                drafts.append(pair)
        return drafts

    async def _revise(self, key: str, seed_id: int, prompt: str, rng: random.Random) -> SampleDraft:
        ctx = self.ctx
        p: Params = ctx.params
        first = await ctx.llm.complete(
            [{"role": "user", "content": ctx.prompts["respond"].render(prompt=prompt)}],
            temperature=p.temperature,
            max_tokens=p.max_tokens,
        )
        response = first.texts[0].strip()
        chain: list[dict[str, str]] = []
        tin, tout = first.tokens_in, first.tokens_out
        for _ in range(p.n_revisions):
            principle = rng.choice(self.constitution["critiques"])
            critique = await ctx.llm.complete(
                [
                    {
                        "role": "user",
                        "content": ctx.prompts["critique"].render(
                            prompt=prompt, response=response, critique_request=principle["critique"]
                        ),
                    }
                ],
                temperature=0.0,
                max_tokens=p.max_tokens,
            )
            revision = await ctx.llm.complete(
                [
                    {
                        "role": "user",
                        "content": ctx.prompts["revision"].render(
                            prompt=prompt,
                            response=response,
                            critique_request=principle["critique"],
                            critique=critique.texts[0].strip(),
                            revision_request=principle["revision"],
                        ),
                    }
                ],
                temperature=0.0,
                max_tokens=p.max_tokens,
            )
            tin += critique.tokens_in + revision.tokens_in
            tout += critique.tokens_out + revision.tokens_out
            chain.append(
                {
                    "critique_request": principle["critique"],
                    "critique": critique.texts[0].strip(),
                    "revision_request": principle["revision"],
                    "revision": revision.texts[0].strip() or response,
                }
            )
            response = chain[-1]["revision"]
        return SampleDraft(
            work_key=f"{key}:sl",
            kind="sft",
            messages=[
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": response},
            ],
            step="revision",
            prompt_version=ctx.prompts["revision"].version,
            model=ctx.model,
            seed_ids=[seed_id],
            extra={
                "initial_response": first.texts[0],
                "chain": chain,
                "constitution_version": ctx.prompts["constitution"].version,
            },
            tokens_in=tin,
            tokens_out=tout,
        )

    async def _compare(
        self, key: str, seed_id: int, prompt: str, rng: random.Random
    ) -> SampleDraft | Skip:
        ctx = self.ctx
        p: Params = ctx.params
        pair = await ctx.llm.complete(
            [{"role": "user", "content": ctx.prompts["respond"].render(prompt=prompt)}],
            n=2,
            temperature=p.pair_temperature,
            max_tokens=p.max_tokens,
        )
        a, b = (t.strip() for t in pair.texts[:2])
        if a == b:
            return Skip(key, "filtered", "identical_responses")
        principle = rng.choice(self.constitution["comparisons"])
        cot = p.label_mode == "cot"
        template = ctx.prompts["compare_cot" if cot else "compare"]
        text = template.render(prompt=prompt, principle=principle, response_a=a, response_b=b)
        judged = await ctx.judge_llm.complete(
            [{"role": "user", "content": text}],
            purpose="judge",
            temperature=0.0,
            max_tokens=512 if cot else 2,
            logprobs=p.label_mode == "logprobs",
            top_logprobs=5 if p.label_mode == "logprobs" else None,
            model=ctx.judge_model or None,
        )
        p_a: float | None = None
        label_source: str = p.label_mode
        if p.label_mode == "logprobs":
            p_a = soft_label(judged)
            if p_a is None:
                label_source = "hard (no logprobs from the endpoint)"
        if p_a is None:
            p_a = hard_label(judged.texts[0])
        if p_a is None:
            return Skip(key, "filtered", "unparsable_label", judged.texts[0][:500])
        if cot:
            p_a = clamp(p_a)
        if p_a == 0.5:
            return Skip(key, "filtered", "tie")
        chosen, rejected = (a, b) if p_a > 0.5 else (b, a)
        return SampleDraft(
            work_key=f"{key}:rl",
            kind="preference",
            messages=[{"role": "user", "content": prompt}],
            chosen=[{"role": "assistant", "content": chosen}],
            rejected=[{"role": "assistant", "content": rejected}],
            step="soft_label",
            prompt_version=template.version,
            model=ctx.model,
            seed_ids=[seed_id],
            extra={
                "source": "ai_judge:constitutional_ai",
                "p_a": p_a,
                "p_chosen": max(p_a, 1 - p_a),
                "label_mode": label_source,
                "principle": principle,
                "judge_output": judged.texts[0][:2000],
                "constitution_version": ctx.prompts["constitution"].version,
            },
            tokens_in=pair.tokens_in + judged.tokens_in,
            tokens_out=pair.tokens_out + judged.tokens_out,
            judge_score=max(p_a, 1 - p_a),
        )
