"""GRA, Generator–Reviewer–Adjudicator (METHODS.md #17): Gao et al., "A Strategic
Coordination Framework of Small LLMs Matches Large LLMs in Data Synthesis", ACL 2025,
arXiv 2504.12322 (GX-XinGao/GRA releases data, models and training scripts, not the pipeline).

Per sample: ① the pool's roles (model_a … model_e, each falling back to policy) are dealt
at random: one generator, three reviewers, one adjudicator → ② the generator GENs a seed's
keywords and summary, then a new instruction and response → ③ each reviewer JUDGEs it 1-10
with a critique → ④ accept when the mean is ≥ 8 and the spread ≤ 1, reject below a mean of
5, else the adjudicator GENs the decision → ⑤ DEDUP-E (cosine ≥ 0.95 to an earlier sample
drops) and GEN metadata (domain, difficulty) → ⑥ FMT SFT with the reviewers' scores, the
decision path and the metadata; one Judgement per reviewer. The sample's confidence is
1 − the spread of the reviewers' scores.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from generation.recipes import gra_panel as panel
from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import confidence, fmt
from generation.recipes.kit.results import Judged

POOL = tuple(
    kit.Role(f"model_{x}", f"Pool model {x.upper()}: generates, reviews or adjudicates, dealt "
             "at random per sample; defaults to policy.", False, "policy")
    for x in "abcde"
)  # fmt: skip
SCALE = (1.0, 10.0)  # the reviewers' scores
CRITIQUE_CHARS = 600  # of each review shown to the adjudicator


@dataclass(frozen=True)
class Draft:
    keywords: str
    summary: str
    instruction: str
    response: str
    version: str  # of the generation prompt


class Params(RecipeParams):
    pool_size: int = Field(
        5, ge=2, le=5, description="Pool members dealt roles: model_a … (the paper: 5 models)."
    )
    n_reviewers: int = Field(3, ge=2, le=4, description="Reviewers per sample.")
    accept_mean: float = Field(
        8.0, ge=1.0, le=10.0, description="Accept without adjudication from this mean score…"
    )
    max_std: float = Field(
        1.0, ge=0.0, le=5.0, description="…when the reviewers' scores spread (std) at most this."
    )
    reject_below: float = Field(
        5.0, ge=1.0, le=10.0, description="Reject without adjudication below this mean score."
    )
    temperature: float = Field(0.8, ge=0.0, le=2.0, description="The generator's sampling.")
    review_temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="Reviewers' sampling (one model in every role still "
        "gives three reviews).",
    )  # fmt: skip
    max_tokens: int = Field(1024, ge=64, le=8192, description="Per instruction and response.")
    dedup_threshold: float = Field(
        0.95, ge=0.5, le=1.0, description="Samples this close (cosine) to an earlier one drop."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.reject_below > self.accept_mean:
            raise ValueError("reject_below is above accept_mean")
        return self


@kit.register
class Gra(kit.Recipe[Params]):
    meta = kit.Meta(
        "gra", "GRA (Generator–Reviewer–Adjudicator)", entry=17, version="1", output="sft",
        section="multi_agent", inputs=frozenset({"instruction", "qa"}), roles=(kit.POLICY, *POOL),
        summary="A pool of models deals itself roles per sample: one writes a new instruction "
        "and response from a seed's keywords, several review it 1-10, and an adjudicator "
        "decides when they disagree; near-duplicates drop and metadata is added.",
        needs=(
            kit.Need("MM", "a pool of different models (the paper: five 7-8B models)",
                     "model_a … model_e fall back to policy: one model plays every part",
                     role="model_a"),
            kit.Need("EMB", "embedding dedup (cosine 0.95)",
                     "Seedbed's local MiniLM, no endpoint needed"),
        ),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "roles", "Deal the pool's roles at random: a generator, 3 reviewers, an "
             "adjudicator (the generator never reviews its own sample); one seed."),
        Step("GEN", "keywords", "The generator: the seed's keywords and a one-line summary."),
        Step("GEN", "generate", "The generator: a new instruction and its response from them."),
        Step("JUDGE", "review", "Each reviewer: a critique and a score 1-10."),
        Step("CHECK", "gate", "Mean ≥ 8 and std ≤ 1: accepted; mean < 5: rejected; else "
             "adjudicated."),
        Step("GEN", "adjudicate", "Conflicting reviews only: the adjudicator reads them and "
             "decides accept or reject."),
        Step("DEDUP-E", "near_copy", "Cosine ≥ 0.95 to an earlier sample's instruction drops "
             "(local MiniLM)."),
        Step("GEN", "metadata", "Domain and difficulty (easy, medium, hard)."),
        Step("FMT", "sft", "instruction → response; reviewer scores, decision path and "
             "metadata in extra; a Judgement per reviewer."),
    )  # fmt: skip
    deviations = (
        "The gate's thresholds are not public [~]: accept at a mean ≥ 8/10 with std ≤ 1 "
        "(population std), reject below 5, adjudicate between; all are settings.",
        "The pool is the run's roles model_a … model_e, each falling back to policy: with one "
        "endpoint one model plays every part, and the reviewers differ only by sampling "
        "(temperature 0.7).",
        "The paper's pipeline is not released: prompts (keywords and summary, generation, "
        "review, adjudication, metadata) are our wording after its description.",
        "Dedup compares each accepted instruction with the run's earlier ones (cosine ≥ 0.95, "
        "local MiniLM), not the whole corpus after generation; metadata is asked of the "
        "sample's generator.",
        "One seed per sample, drawn at random from the run's seeds; the seed's domain comes "
        "from its domain/category/topic field, else 'general'.",
        "Reviewers score quality (instruction and response together, one 1-10 score); the "
        "paper's reviewers also weigh diversity, which here is left to the embedding dedup. "
        "One review round: no iterative critique and revision of a sample.",
    )

    async def setup(self, run: Any) -> None:
        await run.embedding_pool("instructions", run.params.dedup_threshold, [], [])

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("gra")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        roles = panel.assign(it.rng, [r.name for r in POOL[: p.pool_size]], p.n_reviewers)
        (seed,) = await it.sample(it.seeds, 1)
        domain = panel.seed_domain(seed)
        draft = await self.generate(it, roles.generator, seed, domain)
        scored = await self.review(it, roles.reviewers, draft)
        scores = [j.score for _, j in scored if j.score is not None]
        gated = panel.gate(scores, p.accept_mean, p.max_std, p.reject_below)
        it.check(gated.verdict != panel.REJECT, "rejected_by_reviewers", f"mean {gated.mean}")
        adjudication = None
        if gated.verdict == panel.ADJUDICATE:
            adjudication = await self.adjudicate(it, roles.adjudicator, draft, scored)
        novelty = await self.novelty(it, draft.instruction)
        it.check(novelty is None or novelty.novel, "near_duplicate",
                 f"cosine {novelty.score if novelty else ''}")  # fmt: skip
        described = await it.gen("metadata", role=roles.generator, instruction=draft.instruction,
                                 temperature=0.0, max_tokens=60)  # fmt: skip
        named, difficulty = panel.parse_metadata(described.text)
        if named is None or difficulty is None:
            it.note("metadata_unparsable")
        path = panel.BY_ADJUDICATOR if adjudication else panel.BY_REVIEWERS
        sure = confidence.of_samples(scores, SCALE[1], SCALE[0])
        metadata = {
            "domain": named or domain, "difficulty": difficulty or "unknown", "seed_domain": domain,
            "keywords": draft.keywords, "summary": draft.summary, "decision_path": path,
            "roles": {"generator": roles.generator, "reviewers": list(roles.reviewers),
                      "adjudicator": roles.adjudicator},
            "reviews": [{"role": r, "score": j.score, "critique": j.rationale[:CRITIQUE_CHARS]}
                        for r, j in scored],
            "mean": gated.mean, "std": gated.std, "adjudication": adjudication,
            "max_cosine": novelty.score if novelty else None,
        }  # fmt: skip
        tags = [f"domain:{metadata['domain']}"[:64], f"difficulty:{metadata['difficulty']}", path]
        verdicts = [fmt.judgement(f"reviewer {k} ({r})", j, confidence=sure)
                    for k, (r, j) in enumerate(scored, 1)]  # fmt: skip
        extra = {"source": "panel:gra", "metadata": metadata, "tags": tags}
        return fmt.sft(draft.instruction, draft.response, step="generate", extra=extra,
                       prompt_version=draft.version, role=roles.generator,
                       judge_score=gated.mean, confidence=sure, judgements=verdicts)  # fmt: skip

    async def generate(self, it: kit.Item[Params], role: str, seed: Any, domain: str) -> Draft:
        """The generator: the seed's keywords and summary, then a new instruction + response."""
        p = it.params
        got = await it.gen("keywords", role=role, domain=domain, example=panel.seed_example(seed),
                           temperature=p.temperature, max_tokens=200)  # fmt: skip
        keywords, summary = panel.parse_keywords(got.text)
        it.check(bool(keywords or summary), "empty_keywords")
        made = await it.gen("generate", role=role, domain=domain, keywords=keywords or "(none)",
                            summary=summary or "(none)", temperature=p.temperature,
                            max_tokens=p.max_tokens)  # fmt: skip
        pair = panel.parse_pair(made.text)
        if pair is None or made.truncated:
            raise kit.Drop("unparsable_generation")
        return Draft(keywords, summary, pair[0], pair[1], made.version)

    async def review(
        self, it: kit.Item[Params], reviewers: tuple[str, ...], draft: Draft
    ) -> list[tuple[str, Judged]]:
        """Every reviewer's critique and 1-10 score, concurrently; unparsable ones left out."""
        reviews = await asyncio.gather(*(
            it.judge("review", role=r, instruction=draft.instruction, response=draft.response,
                     maximum=SCALE[1], temperature=it.params.review_temperature)
            for r in reviewers
        ))  # fmt: skip
        scored = [(r, j) for r, j in zip(reviewers, reviews, strict=True) if j.score is not None]
        it.count("review_unparsable", len(reviews) - len(scored))
        it.check(len(scored) >= 2, "unparsable_reviews")
        return scored

    async def adjudicate(
        self, it: kit.Item[Params], role: str, draft: Draft, scored: list[tuple[str, Judged]]
    ) -> dict[str, Any]:
        """The adjudicator's decision on conflicting reviews; a rejection drops the sample."""
        shown = "\n\n".join(
            f"Reviewer {k} (score {j.score:g}): {j.rationale[:CRITIQUE_CHARS]}"
            for k, (_, j) in enumerate(scored, 1)
        )
        got = await it.gen("adjudicate", role=role, instruction=draft.instruction,
                           response=draft.response, reviews=shown, temperature=0.0,
                           max_tokens=300)  # fmt: skip
        decision = panel.parse_decision(got.text)
        it.check(decision is not None, "adjudication_unparsable")
        it.check(decision == panel.ACCEPT, "rejected_by_adjudicator")
        reasons = got.text.rsplit("Decision", 1)[0].strip()[:CRITIQUE_CHARS]
        return {"role": role, "model": got.model, "decision": decision, "reasons": reasons}

    async def novelty(self, it: kit.Item[Params], instruction: str) -> Any:
        """DEDUP-E against the run's accepted instructions; None when no embedder loads."""
        try:
            return await it.dedup_e("instructions", instruction)
        except (ImportError, OSError):
            it.note("dedup_e_unavailable")
            return None
