"""UltraFeedback (beyond the seed list, B2): Cui et al., "UltraFeedback: Boosting Language
Models with Scaled AI Feedback", ICML 2024, arXiv 2310.01377 (OpenBMB/UltraFeedback).

① per prompt, up to 4 models (roles policy, model_b, model_c, model_d; the optional ones
fall back to policy) each GEN a response under a sampled principle system prompt
(helpfulness, honesty, truthfulness, verbalized calibration) → ② CHECK: empty and
duplicate responses leave → ③ JUDGE all responses together, one call per aspect
(helpfulness, honesty, instruction following, truthfulness), a 1-5 rating and a rationale
per response, several samples in shuffled orders → ④ overall = mean of the aspect
ratings → ⑤ PAIR as binarized UltraFeedback: best against a random lower one, ties
dropped (or best vs worst, or all pairs over a margin) → ⑥ FMT DPO with every rating in
metadata and one Judgement row per aspect; optionally the rated responses as KTO or SFT
rows. The pair's confidence is 2·P(a judge sample ranks chosen above rejected) − 1.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import JudgementDraft, RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.results import Gen
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.ultrafeedback_pairs import pair_confidence, pick_pairs
from generation.recipes.ultrafeedback_principles import draw_principle, parse_principles
from generation.recipes.ultrafeedback_ratings import ASPECTS, Ratings, gather, texts_block

MODELS = (
    kit.POLICY,
    kit.Role("model_b", "A second model for the responses; defaults to policy.", False, "policy"),
    kit.Role("model_c", "A third model for the responses; defaults to policy.", False, "policy"),
    kit.Role("model_d", "A fourth model for the responses; defaults to policy.", False, "policy"),
)
JUDGE = kit.Role("judge", "Rates every response on the four aspects; defaults to policy.",
                 False, "policy")  # fmt: skip
NO_KNOWLEDGE = "None given."
RAW_CHARS = 4000


class Params(RecipeParams):
    n_responses: int = Field(4, ge=2, le=8, description="Responses per prompt (the paper: 4).")
    principle_mix: Literal["paper", "uniform", "none"] = Field(
        "paper", description="How each response's principle is drawn (see the recipe page)."
    )
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="Response sampling.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=16, le=8192, description="Per response.")
    judge_samples: int = Field(
        3, ge=1, le=10, description="Judge replies per aspect; their spread is the confidence."
    )
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    judge_max_tokens: int = Field(1024, ge=64, le=8192, description="Per judge reply.")
    shuffle_per_sample: bool = Field(
        True, description="Each judge sample sees the responses in its own random order (else "
        "one order per aspect, its samples in one request).",
    )  # fmt: skip
    min_aspects: int = Field(
        4, ge=1, le=4, description="Aspects a response needs rated (an honesty N/A counts) "
        "to get an overall score.",
    )  # fmt: skip
    pairing: Literal["best_vs_random", "best_vs_worst", "all_pairs"] = Field(
        "best_vs_random", description="Which pairs the overall scores make."
    )
    min_margin: float = Field(
        0.0, ge=0.0, le=4.0, description="The chosen must score more than this above the "
        "rejected (0: ties dropped).",
    )  # fmt: skip
    rated_rows: Literal["none", "kto", "sft"] = Field(
        "none", description="Also store kto: every rated response (desirable at desirable_at "
        "or above); sft: the best response, if at desirable_at or above.",
    )  # fmt: skip
    desirable_at: float = Field(4.0, ge=1.0, le=5.0, description="Overall score for kto/sft.")


def reference(seed: SeedRow) -> str | None:
    """A qa seed's answer: the judges' world knowledge, as the paper gives TruthfulQA's."""
    answer = str(seed.payload.get("answer") or "").strip() if seed.kind == "qa" else ""
    return answer or None


@kit.register
class UltraFeedback(kit.Recipe[Params]):
    meta = kit.Meta(
        "ultrafeedback", "UltraFeedback", entry="B2", version="1", output="preference",
        section="beyond", inputs=frozenset({"instruction", "conversation", "text", "qa"}),
        roles=(*MODELS, JUDGE),
        summary="Up to four models answer each prompt under sampled principles; a judge rates "
        "every answer on helpfulness, honesty, instruction following and truthfulness; the "
        "best is paired against a lower-rated one.",
        needs=(kit.Need("MM", "responses from several models (the paper samples 4 of 17)",
                        "model_b, model_c and model_d fall back to policy: one model under "
                        "four principles", role="model_b"),),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "principle", "A principle per response: its system prompt steers it."),
        Step("GEN", "respond", "Up to 4 models (roles) answer, T 1.0, top-p 1.0."),
        Step("CHECK", "distinct", "Empty and duplicate responses leave; at least 2 remain."),
        Step("JUDGE", "rate_<aspect>", "All responses at once per aspect, 1-5 each, 3 samples "
             "in shuffled orders: helpfulness, honesty, instruction following, truthfulness."),
        Step("PAIR", "best_vs_random", "Overall = mean of the aspects; best vs a random lower "
             "one, ties dropped."),
        Step("FMT", "dpo", "prompt / chosen / rejected; ratings in metadata, a Judgement per "
             "aspect."),
    )  # fmt: skip
    deviations = (
        "The paper samples 4 of 17 models per prompt; here up to 4 roles (policy, model_b, "
        "model_c, model_d) take the responses in a random order, and optional roles fall back "
        "to policy: with one endpoint, diversity comes only from the principles and sampling.",
        "Principle system prompts are our wording (4 per principle, not 11); the principle mix "
        "is the reference code's. Harmlessness is not used, as in the released annotations.",
        "Judge prompts are our wording of the paper's four rubrics. The paper's helpfulness "
        "and truthfulness replies first list informativeness or hallucination types; ours "
        "ask only for a rating and a rationale that names them.",
        "The paper asks GPT-4 once per aspect at temperature 0, in one random order; we take "
        "3 samples at temperature 0.7 (judge_samples), each in its own random order, average "
        "them and use their spread as the confidence.",
        "The overall score is the mean of the four aspect ratings (an honesty N/A left out). "
        "The paper's separate critique 'overall score' (1-10) is not asked for.",
        "Pairs are not in the paper, which releases ratings: the default follows binarized "
        "UltraFeedback (best mean against a random lower-rated response, ties dropped).",
        "World knowledge for the truthfulness and helpfulness judges is a qa seed's answer "
        "(the paper gives it for TruthfulQA, FalseQA and FLAN); other prompts get none.",
        "Prompts are the run's seeds, not the paper's 64k prompts from six datasets.",
    )

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        if name == "principles":
            parse_principles(text)

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("uf", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p, seed = it.params, it.payload
        it.use_seeds(seed)
        prompt, known = seed_prompt(seed), reference(seed)
        made, drawn = await self.respond(it, prompt, known is not None)
        keep = distinct(it, made)
        texts = [made[i].text.strip() for i in keep]
        ratings, judged = await self.rate(it, prompt, texts, known)
        scores = [r.overall(p.min_aspects) for r in ratings]
        if None in scores:
            it.count("unrated_response", scores.count(None))
        responses = [
            {"index": i, "role": made[i].role, "model": made[i].model, **drawn[i],
             "text": texts[k][:RAW_CHARS], "truncated": made[i].truncated,
             **ratings[k].as_json(p.min_aspects)}
            for k, i in enumerate(keep)
        ]  # fmt: skip
        view = Rows(prompt, texts, ratings, scores, judged, responses, known, made[0].version)
        extra_rows = view.rated_rows(p.rated_rows, p.desirable_at)
        try:
            pairs = pick_pairs(scores, p.pairing, p.min_margin, it.rng)
        except kit.Drop as drop:
            if not extra_rows:
                raise
            it.count(drop.reason)
            return extra_rows
        many = len(pairs) > 1
        rows = [view.pair(c, r, p.pairing, f"p{c}-{r}" if many else "") for c, r in pairs]
        return rows + extra_rows

    async def respond(
        self, it: kit.Item[Params], prompt: str, answered: bool
    ) -> tuple[list[Gen], list[dict[str, Any]]]:
        """GEN: each response from its role under its principle's system prompt."""
        p = it.params
        book = parse_principles(it.host.prompts["principles"].text)
        names = [r.name for r in MODELS]
        order = it.rng.sample(names, len(names))
        roles = [order[k % len(order)] for k in range(p.n_responses)]
        drawn: list[dict[str, Any]] = []
        for _ in roles:
            principle = draw_principle(it.rng, p.principle_mix, answered)
            system = it.rng.choice(book[principle]) if principle else None
            drawn.append({"principle": principle, "system_prompt": system})
        sampling: dict[str, Any] = {
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_tokens,
        }
        made = await asyncio.gather(
            *(
                it.gen("respond", role=role, system=d["system_prompt"], prompt=prompt, **sampling)
                for role, d in zip(roles, drawn, strict=True)
            )
        )
        return list(made), drawn

    async def rate(
        self, it: kit.Item[Params], prompt: str, texts: list[str], known: str | None
    ) -> tuple[list[Ratings], dict[str, Judging]]:
        """JUDGE: per aspect, `judge_samples` replies that rate every response at once."""
        p, m = it.params, len(texts)
        per_call = 1 if p.shuffle_per_sample else p.judge_samples
        asks = [
            (aspect, it.rng.sample(range(m), m))
            for aspect in ASPECTS
            for _ in range(p.judge_samples // per_call)
        ]
        ask: dict[str, Any] = {
            "instruction": prompt,
            "count": m,
            "world_knowledge": known or NO_KNOWLEDGE,
            "temperature": p.judge_temperature,
            "max_tokens": p.judge_max_tokens,
        }
        got = await asyncio.gather(
            *(
                it.gen(f"rate_{a}", role="judge", n=per_call, texts=texts_block(texts, o), **ask)
                for a, o in asks
            )
        )
        triples = [(a, o, t) for (a, o), g in zip(asks, got, strict=True) for t in g.texts]
        ratings, unreadable = gather(triples, m)
        if unreadable:
            it.count("unreadable_judgement", unreadable)
        it.check(unreadable < len(triples), "unreadable_judgements")
        judged = {a: Judging(g.model, g.version, []) for (a, _), g in zip(asks, got, strict=True)}
        for a, order, text in triples:
            shown = ", ".join(str(i) for i in order)
            judged[a].raw.append(f"[texts 1-{m} are responses {shown}]\n{text}")
        return ratings, judged


def distinct(it: kit.Item[Params], made: list[Gen]) -> list[int]:
    """Indexes of the responses that are neither empty nor a copy of an earlier one."""
    keep: list[int] = []
    seen: set[str] = set()
    copies = 0
    for i, g in enumerate(made):
        text = g.text.strip()
        if not text:
            it.count("empty_response")
        elif text in seen:
            copies += 1
        else:
            seen.add(text)
            keep.append(i)
    if copies:
        it.count("duplicate_response", copies)
    it.check(bool(keep), "empty_responses")
    it.check(len(keep) >= 2 or not copies, "identical_responses")
    it.check(len(keep) >= 2, "too_few_responses", "one response, the rest empty")
    return keep


@dataclass
class Judging:
    """One aspect's judge replies: the judge's model, the template version, the replies."""

    model: str
    version: str
    raw: list[str]


class Rows:
    """FMT: one item's rated responses as DPO (and KTO or SFT) rows."""

    def __init__(
        self,
        prompt: str,
        texts: list[str],
        ratings: list[Ratings],
        scores: list[float | None],
        judged: dict[str, Judging],
        responses: list[dict[str, Any]],
        known: str | None,
        version: str,  # the respond template's, for the rows
    ) -> None:
        self.prompt, self.texts, self.ratings, self.scores = prompt, texts, ratings, scores
        self.judged, self.responses, self.known, self.version = judged, responses, known, version

    def judgements(self, k: int, label: str) -> list[JudgementDraft]:
        """One Judgement row per aspect for response k (rubric ultrafeedback_<aspect>)."""
        rows = []
        for aspect in ASPECTS:
            judge = self.judged[aspect]
            raw = "\n---\n".join(judge.raw)[:RAW_CHARS]
            why = f"{label}: {self.ratings[k].rationales[aspect]}"[:RAW_CHARS]
            rows.append(JudgementDraft(judge.model, f"ultrafeedback_{aspect}", judge.version,
                                       self.ratings[k].aspect(aspect), why, raw,
                                       self.ratings[k].confidence(aspect)))  # fmt: skip
        return rows

    def extra(self, **metadata: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "source": "ai_judge:ultrafeedback",
            "scores": self.scores,
            "metadata": {"aspects": list(ASPECTS), "responses": self.responses, **metadata},
        }
        if self.known is not None:
            extra["gold"] = self.known
        return extra

    def pair(self, c: int, r: int, rule: str, suffix: str) -> kit.Piece:
        chosen, rejected = self.scores[c], self.scores[r]
        assert chosen is not None and rejected is not None  # pick_pairs pairs rated ones
        extra = self.extra(pairing=rule, chosen=c, rejected=r)
        extra |= {"chosen_score": chosen, "rejected_score": rejected,
                  "margin": round(chosen - rejected, 4),
                  "rationale": f"Overall (mean of {len(ASPECTS)} aspects): chosen {chosen:.2f}, "
                               f"rejected {rejected:.2f}."}  # fmt: skip
        verdicts = self.judgements(c, "chosen") + self.judgements(r, "rejected")
        sure = pair_confidence(self.ratings[c].draws(), self.ratings[r].draws())
        return fmt.dpo(self.prompt, self.texts[c], self.texts[r], suffix=suffix, step=rule,
                       extra=extra, role=self.responses[c]["role"], judge_score=chosen,
                       confidence=sure, judgements=verdicts,
                       prompt_version=self.version)  # fmt: skip

    def rated_rows(self, kind: str, desirable_at: float) -> list[kit.Piece]:
        rated = [(s, k) for k, s in enumerate(self.scores) if s is not None]
        if kind == "sft":
            rated = [max(rated, key=lambda q: (q[0], -q[1]))] if rated else []
            rated = [(s, k) for s, k in rated if s >= desirable_at]
        elif kind != "kto":
            return []
        rows = []
        for score, k in rated:
            opts: dict[str, Any] = {
                "suffix": f"{kind}{k}", "step": kind, "role": self.responses[k]["role"],
                "extra": self.extra(response=k), "judge_score": score,
                "prompt_version": self.version,
                "confidence": self.ratings[k].confidence(),
                "judgements": self.judgements(k, "response"),
            }  # fmt: skip
            text = self.texts[k]
            if kind == "kto":
                rows.append(fmt.kto(self.prompt, text, score >= desirable_at, **opts))
            else:
                rows.append(fmt.sft(self.prompt, text, **opts))
        return rows
