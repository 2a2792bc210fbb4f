"""SynPO, Self-Boosting LLMs with Synthetic Preference Data (METHODS.md #22; Dong et al.,
ICLR 2025, arXiv 2410.06961), one round with prompted stand-ins for the trained parts.

② SAMPLE 3 keywords, GEN a prompt from them (the `generator` role, shown keyword → seed
prompt demonstrations); it must use ≥ 2 of them and not copy a seed or an earlier prompt
→ ③ GEN the policy's response (rejected) → ④ GEN the refined response (the `improver`
role, shown the policy's drafts of seed prompts beside their gold answers) → ⑤ keep the
pair only if chosen ≠ rejected and a judge, asked in both orders, prefers chosen → FMT DPO.
In the paper the generator and the improver are fine-tuned on the seed data and the
policy is retrained between four rounds; here both are prompts and a round is a run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import JudgementDraft, RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.synpo_text import (
    GOLD_KINDS,
    clean_keywords,
    generator_examples,
    gold_of,
    improver_examples,
    keyword_pool,
    keywords_in,
    read_improved,
    read_prompt,
    same_text,
    shot_keywords,
    with_gold,
)

NO_GOLD = (
    "SynPO needs seed SFT data with gold responses: instruction seeds with an output, "
    "conversations with an assistant reply, or QA seeds with an answer."
)
GENERATOR = kit.Role("generator", "Writes prompts from keywords (SynPO's self-prompt generator); "
                     "defaults to the policy model.", False, "policy")  # fmt: skip
IMPROVER = kit.Role("improver", "Refines the policy's responses (SynPO's response improver); "
                    "defaults to the policy model.", False, "policy")  # fmt: skip


class Params(RecipeParams):
    keywords: list[str] = Field(
        default_factory=list,
        description="Keywords to draw from. Empty: the seed set's word_list seeds, else "
        "content words of the seed prompts.",
    )
    keywords_per_prompt: int = Field(3, ge=1, le=10, description="Keywords drawn per prompt.")
    min_keywords: int = Field(
        2, ge=1, le=10, description="A new prompt must use at least this many of them."
    )
    generator_shots: int = Field(
        4, ge=0, le=16, description="Seed prompts shown to the generator (keywords → prompt)."
    )
    improver_shots: int = Field(
        2, ge=1, le=8, description="Seeds shown to the improver with their gold answers."
    )
    draft_shots: bool = Field(
        True,
        description="Show the policy's own draft of each improver example beside its gold "
        "answer (the model-answer → gold gaps the paper's improver learns); off saves the "
        "calls and shows the gold answers only.",
    )
    novelty_threshold: float = Field(
        0.7, gt=0.0, le=1.0, description="New prompts with ROUGE-L above this vs the pool drop."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For prompts and responses.")
    improver_temperature: float = Field(0.0, ge=0.0, le=2.0)
    soft_labels: bool = Field(
        False, description="Judge p(A) from the first token's logprobs (needs LP)."
    )
    min_confidence: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Drop pairs whose judge confidence |2·p(chosen) − 1| is below this.",
    )
    max_tokens: int = Field(1024, ge=16, le=8192)


@kit.register
class SynPO(kit.Recipe[Params]):
    meta = kit.Meta(
        "synpo", "SynPO (Self-Boosting)", entry=22, version="1", output="preference",
        section="preference", inputs=GOLD_KINDS | {"word_list"},
        roles=(kit.POLICY, GENERATOR, IMPROVER, kit.JUDGE),
        summary="Prompts from 3 random keywords; the policy's answer is rejected, its refinement "
        "by an improver shown seed gold answers is chosen, kept when a judge agrees.",
        needs=(kit.Need("LP", "soft labels from the (A)/(B) token logprobs",
                        "soft_labels off: a hard label from the judge's letter, both orders",
                        role="judge", when=lambda p: p.soft_labels),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "keywords", "3 keywords from the keyword list."),
        Step("SAMPLE", "generator_shots", "Seed prompts with keywords drawn from each."),
        Step("GEN", "new_prompt", "The generator writes a prompt from the keywords."),
        Step("CHECK", "validity", "Not empty; uses ≥ 2 of the keywords."),
        Step("DEDUP-L", "novelty", "ROUGE-L ≤ 0.7 against the seed prompts and earlier prompts."),
        Step("GEN", "respond", "The policy answers the prompt: the rejected response."),
        Step("SAMPLE", "improver_shots", "Seeds with gold answers; the policy drafts each."),
        Step("GEN", "improve", "The improver refines the response: the chosen one."),
        Step("CHECK", "identical", "The refinement differs from the response."),
        Step("PAIRJ", "compare", "A judge compares them in both orders; it must prefer chosen."),
        Step("FMT", "dpo", "prompt / chosen / rejected, the keywords and p(chosen)."),
    )
    deviations = (
        "The self-prompt generator and the response improver are prompts to a strong model "
        "(few-shot from the seeds), not models fine-tuned on the seed data as in the paper.",
        "The generator is shown seed prompts with keywords drawn from each (keywords → "
        "prompt, the shape of its training data); the improver is shown seed requests with "
        "the policy's draft (optional) and the gold answer as the improved one.",
        "One round: the paper retrains the policy between 4 iterations; a later round is a "
        "new run against the retrained endpoint. The rejected and the refined response come "
        "from the same policy (the paper's initial and previous-iteration models coincide).",
        "The preference-gap filter is a pairwise LLM judgement asked in both orders; the "
        "prompt-validity check is a rule (≥ 2 of the keywords, not a copy by ROUGE-L ≤ 0.7).",
        "Keywords come from the run's list, else the seed set's word_list seeds, else content "
        "words of the seed prompts; the paper draws them from its own keyword list.",
        "Prompt wording is ours.",
    )

    @classmethod
    def check_start(cls, params: Any, seed_set: Any | None) -> None:
        kinds = set(getattr(seed_set, "kinds", None) or [])
        if kinds and not kinds & GOLD_KINDS:
            raise ValueError(NO_GOLD)
        if params.min_keywords > params.keywords_per_prompt:
            raise ValueError("min_keywords cannot exceed keywords_per_prompt.")

    async def setup(self, run: Any) -> None:
        p: Params = run.params
        self.gold = with_gold(run.seeds)
        if not self.gold:
            raise ValueError(NO_GOLD)
        words = [s for s in run.seeds if s.kind == "word_list" and s.payload.get("word")]
        pools: dict[str, list[Any]] = {"params": clean_keywords(p.keywords), "word_list": words}
        self.keyword_source = next((name for name, got in pools.items() if got), "seed_texts")
        self.keywords = pools.get(self.keyword_source) or keyword_pool(
            seed_prompt(s) for s in self.gold
        )
        if len(self.keywords) < p.keywords_per_prompt:
            raise ValueError(
                f"SynPO draws {p.keywords_per_prompt} keywords per prompt and has only "
                f"{len(self.keywords)}; give a keyword list or a word_list seed set."
            )
        run.rouge_pool("prompts", p.novelty_threshold, [seed_prompt(s) for s in self.gold])

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("synpo")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        drawn = await it.sample(self.keywords, p.keywords_per_prompt)
        keywords = [str(k.payload["word"]) if isinstance(k, SeedRow) else str(k) for k in drawn]
        prompt = await self.new_prompt(it, keywords)
        found = keywords_in(prompt, keywords)
        it.check(len(found) >= p.min_keywords, "too_few_keywords", f"{found} of {keywords}")
        novelty = await it.dedup_l("prompts", prompt)
        it.check(novelty.novel, "copies_seed_or_prompt", f"ROUGE-L {novelty.score}")
        answer = await it.gen(messages=[{"role": "user", "content": prompt}],
                              temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
        rejected = answer.text.strip()
        it.check(bool(rejected) and not answer.truncated, "empty_response")
        shots, examples = await self.improver_shots(it)
        better = await it.gen("improve", role="improver", examples=examples, prompt=prompt,
                              draft=rejected, temperature=p.improver_temperature,
                              max_tokens=p.max_tokens, stop=["</improved>"])  # fmt: skip
        chosen = read_improved(better.text)
        it.check(bool(chosen), "empty_improvement")
        it.check(not same_text(chosen, rejected), "identical")
        verdict = await it.pairj("compare", chosen, rejected, swap=True, logprobs=p.soft_labels,
                                 prompt=prompt, max_tokens=8)  # fmt: skip
        p_chosen = verdict.p_a
        if p_chosen is None:
            raise kit.Drop("unparsable_verdict", "\n---\n".join(verdict.raw)[:500])
        it.check(p_chosen >= 0.5, "judge_prefers_rejected", f"p(chosen) {p_chosen:.2f}")
        it.check(p_chosen > 0.5, "no_preference_gap", f"orders {verdict.orders}")
        sure = verdict.confidence
        it.check((sure or 0.0) >= p.min_confidence, "unsure_preference", f"confidence {sure}")
        extra = {
            "source": "ai_judge:synpo",
            "tags": keywords,
            "keywords": keywords,
            "keywords_found": found,
            "p_chosen": p_chosen,
            "p_a_orders": verdict.orders,
            "label_source": verdict.label_source,
            "judge_output": "\n---\n".join(verdict.raw)[:2000],
            "metadata": {"keyword_source": self.keyword_source, "improver_shots": shots,
                         "draft_shots": p.draft_shots, "novelty_rouge_l": novelty.score},
        }  # fmt: skip
        judged = JudgementDraft(
            verdict.model, "compare", verdict.version, p_chosen,
            f"p(chosen) {p_chosen:.2f} over both orders", "\n---\n".join(verdict.raw), sure,
        )  # fmt: skip
        return fmt.dpo(prompt, chosen, rejected, step="compare", extra=extra,
                       prompt_version=better.version, judge_score=p_chosen, confidence=sure,
                       judgements=[judged])  # fmt: skip

    async def new_prompt(self, it: kit.Item[Params], keywords: list[str]) -> str:
        """② the generator's prompt from the keywords, after keyword → seed-prompt shots."""
        p = it.params
        shown = await it.sample(self.gold, p.generator_shots) if p.generator_shots else []
        k = p.keywords_per_prompt
        shots = [(shot_keywords(seed_prompt(s), k, it.rng), seed_prompt(s)) for s in shown]
        made = await it.gen("new_prompt", role="generator", examples=generator_examples(shots),
                            keywords=", ".join(keywords), temperature=p.temperature,
                            max_tokens=512, stop=["\nKeywords:"])  # fmt: skip
        prompt = read_prompt(made.text)
        it.check(bool(prompt) and not made.truncated, "empty_prompt")
        return prompt

    async def improver_shots(self, it: kit.Item[Params]) -> tuple[list[int], str]:
        """④'s demonstrations: seed requests, the policy's drafts of them, their gold answers."""
        p = it.params
        shown: list[SeedRow] = await it.sample(self.gold, p.improver_shots)
        drafts: list[str | None] = [None] * len(shown)
        if p.draft_shots:
            ask: dict[str, Any] = {"temperature": p.temperature, "max_tokens": p.max_tokens}
            made = await asyncio.gather(
                *(it.gen(messages=[{"role": "user", "content": seed_prompt(s)}], **ask)
                  for s in shown)
            )  # fmt: skip
            drafts = [g.text.strip() for g in made]
        shots = [(seed_prompt(s), d, gold_of(s)) for s, d in zip(shown, drafts, strict=True)]
        return [s.id for s in shown], improver_examples(shots)
