"""Meta-Rewarding Language Models (METHODS.md #20; Wu et al., EMNLP 2025, arXiv 2407.19594),
one round with a fixed model as actor, judge and meta-judge.

① GEN×K responses to a seed prompt → ② JUDGE each N times with the additive 5-point rubric
(Self-Rewarding's), averaged → ③ actor PAIR with length control: of the responses scoring
at least (1 − ρ)·S_max + ρ·S_min the shortest is chosen, the lowest-scored is rejected →
④ for the responses whose N judgements disagree most, PAIRJ every two of its judgements
with the meta-judge, in both orders → ⑤ Elo-scale ratings of the judgements from those
battles, position-bias weighted (meta_rewarding_elo.py) → judge PAIR: best vs worst rated →
⑥ FMT both kinds of pair. Training on them between rounds happens outside Seedbed.
"""

from __future__ import annotations

import asyncio
import statistics
from itertools import combinations
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes import meta_rewarding_elo as elo
from generation.recipes.base import JudgementDraft, RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.pairing import best_vs_worst
from generation.recipes.kit.parse import parse_score
from generation.recipes.kit.results import Judged, PairVerdict
from generation.recipes.kit.seeds import seed_prompt

PROMPT_KINDS = frozenset({"instruction", "conversation", "text", "qa"})
META_JUDGE = kit.Role(
    "meta_judge", "Compares two judgements of one response; defaults to the judge.", False, "judge"
)


class Params(RecipeParams):
    n_responses: int = Field(7, ge=2, le=16, description="Responses per prompt (K).")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=16, le=8192)
    judge_samples: int = Field(3, ge=2, le=10, description="Judgements per response (N).")
    judge_temperature: float = Field(0.7, gt=0.0, le=2.0)
    rho: float = Field(
        0.1, ge=0.0, le=0.9, description="ρ: the top band is score ≥ (1 − ρ)·S_max + ρ·S_min."
    )
    min_variance: float = Field(
        0.0, ge=0.0, le=25.0, description="Only responses whose judge scores vary more are "
        "meta-judged (population variance)."
    )  # fmt: skip
    meta_responses: int = Field(
        1, ge=1, le=16, description="Responses meta-judged per prompt, highest variance first."
    )
    max_judgment_words: int = Field(
        200, ge=10, le=4000, description="Longer judgements are left out of the battles."
    )
    meta_max_tokens: int = Field(512, ge=16, le=4096)


def words(text: str) -> int:
    return len(text.split())


def top_band(scores: list[float | None], rho: float) -> tuple[float, list[int]]:
    """The band's floor (1 − ρ)·S_max + ρ·S_min and the responses scoring at least that."""
    known = [s for s in scores if s is not None]
    floor = round((1.0 - rho) * max(known) + rho * min(known), 6)
    return floor, [i for i, s in enumerate(scores) if s is not None and s >= floor]


def length_controlled(
    scores: list[float | None], lengths: list[int], rho: float
) -> tuple[int, int]:
    """(chosen, rejected): the shortest response in the top band and the lowest-scored one.
    Drop("unjudgeable") with fewer than two scores, Drop("tie") when all scores are equal."""
    _, worst = best_vs_worst(scores)
    _, band = top_band(scores, rho)
    return min(band, key=lambda i: (lengths[i], -(scores[i] or 0.0), i)), worst


def disagreeing(judged: list[Judged], p: Params) -> list[int]:
    """The responses to meta-judge: judge scores' variance above min_variance, most first."""
    spread = {i: statistics.pvariance(j.scores) for i, j in enumerate(judged) if len(j.scores) > 1}
    high = [i for i, v in spread.items() if v > p.min_variance]
    return sorted(high, key=lambda i: (-spread[i], i))[: p.meta_responses]


@kit.register
class MetaRewarding(kit.Recipe[Params]):
    meta = kit.Meta(
        "meta_rewarding", "Meta-Rewarding", entry=20, version="1", output="preference",
        section="preference", inputs=PROMPT_KINDS, roles=(kit.POLICY, kit.JUDGE, META_JUDGE),
        yield_per_item=1.5,
        summary="One model answers K times, judges each answer N times and judges its own "
        "judgements: length-controlled response pairs and meta-judged judgement pairs.",
        needs=(kit.Need("N", "7 responses and 3 judgements each", "single requests in parallel "
                        "(automatic)"),),
    )  # fmt: skip
    shared_prompts = ("additive_5pt",)
    steps = (
        Step("GEN", "respond", "K = 7 responses to the seed prompt (T 0.7, top-p 0.9)."),
        Step("JUDGE", "additive_5pt", "Each response judged N = 3 times (0-5), averaged."),
        Step("PAIR", "actor_pair", "Chosen: the shortest response scoring ≥ (1 − ρ)·S_max + "
             "ρ·S_min (ρ 0.1); rejected: the lowest; ties and unjudgeable dropped."),
        Step("PAIRJ", "meta_judge", "The response whose judgements disagree most: every two "
             "judgements compared by the meta-judge in both orders; a flip is a tie."),
        Step("PAIR", "judge_pair", "Position-weighted Elo over those battles: best vs worst "
             "judgement; over-long judgements left out, equal ratings dropped."),
        Step("FMT", "dpo", "Actor pairs (user prompt) and judge pairs (the judge prompt)."),
    )  # fmt: skip
    deviations = (
        "One round: the paper's iterations train the model (DPO) between rounds, outside "
        "Seedbed; a later round is a new run against the trained endpoint.",
        "Prompts are the seed set's. The paper used 20,000 prompts written in advance by "
        "Llama-2-70B-Chat; upload such a set, or make one with Self-Rewarding or Self-Instruct.",
        "The judge prompt is Self-Rewarding's additive 5-point rubric (wording ours); the "
        "meta-judge prompt's wording is ours and it answers (A)/(B) instead of naming "
        "'Judgment A'.",
        "K = 7, N = 3, ρ = 0.1, temperatures and the 200-word judgement limit are our defaults: "
        "the paper's exact values could not be checked.",
        "Position-bias weights are computed over the battles of one response's judgements, "
        "not over the whole dataset; the Elo ratings are a Bradley-Terry fit with half a "
        "virtual game per pair split evenly (so an unbeaten judgement has a finite rating).",
        "Meta-judged responses: those whose judge scores vary more than `min_variance`, "
        "highest first, up to `meta_responses` (1) per prompt.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("mr", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed: SeedRow = it.payload
        it.use_seeds(seed)
        prompt = seed_prompt(seed)
        answers = await it.gen(
            "respond", prompt=prompt, n=p.n_responses, max_tokens=p.max_tokens,
            temperature=p.temperature, top_p=p.top_p,
        )  # fmt: skip
        texts = answers.texts
        judged = await asyncio.gather(
            *(
                it.judge("additive_5pt", prompt=prompt, response=t, samples=p.judge_samples,
                         temperature=p.judge_temperature)
                for t in texts
            )
        )  # fmt: skip
        pieces: list[kit.Piece] = []
        reason = ""
        try:
            pieces.append(self.actor_pair(prompt, texts, judged, p, answers.version))
        except kit.Drop as drop:
            reason = drop.reason
        chosen = disagreeing(judged, p)
        if not chosen:
            it.note("judges_agree")
        for k, i in enumerate(chosen):
            piece = await self.judge_pair(it, prompt, texts[i], judged[i], i, p)
            if piece is not None:
                piece.suffix = f"j{k}"
                pieces.append(piece)
        it.check(bool(pieces), reason or "no_pair")
        if reason:
            it.count(f"actor_{reason}")
        return pieces

    @staticmethod
    def actor_pair(
        prompt: str, texts: list[str], judged: list[Judged], p: Params, version: str
    ) -> kit.Piece:
        scores = [j.score for j in judged]
        lengths = [words(t) for t in texts]
        best, worst = length_controlled(scores, lengths, p.rho)
        if texts[best] == texts[worst]:
            raise kit.Drop("identical_pair")
        floor, band = top_band(scores, p.rho)
        extra = {
            "source": "ai_judge:meta_rewarding",
            "scores": scores,
            "chosen_score": scores[best],
            "rejected_score": scores[worst],
            "judge_samples": [j.scores for j in judged],
            "metadata": {
                "pair": "actor", "rho": p.rho, "band_floor": floor, "top_band": band,
                "words": lengths,
                "chosen_index": best, "rejected_index": worst,
            },
        }  # fmt: skip
        verdicts = [fmt.judgement("chosen", judged[best]), fmt.judgement("rejected", judged[worst])]
        return fmt.dpo(
            prompt, texts[best], texts[worst], suffix="actor", step="actor_pair", extra=extra,
            prompt_version=version, judge_score=scores[best], judgements=verdicts,
        )  # fmt: skip

    @staticmethod
    async def judge_pair(
        it: kit.Item[Params], prompt: str, response: str, judged: Judged, index: int, p: Params
    ) -> kit.Piece | None:
        """The best against the worst judgement of one response, or None (counted why)."""
        raws = [t for t in judged.raw if parse_score(t, judged.maximum) is not None]
        short = [t for t in raws if words(t) <= p.max_judgment_words]
        if len(short) < len(raws):
            it.count("long_judgment", len(raws) - len(short))
        short = list(dict.fromkeys(short))  # a judgement given twice is one contestant
        if len(short) < 2:
            it.count("too_few_judgments")
            return None
        judge_prompt = it.host.prompts["additive_5pt"].render(prompt=prompt, response=response)
        pairs = list(combinations(range(len(short)), 2))
        verdicts: list[PairVerdict] = await asyncio.gather(
            *(
                it.pairj("meta_judge", short[a], short[b], role="meta_judge",
                         judge_prompt=judge_prompt, max_tokens=p.meta_max_tokens)
                for a, b in pairs
            )
        )  # fmt: skip
        unread = sum(v.orders.count(None) for v in verdicts)
        if unread:
            it.count("meta_unparsable", unread)
        fought, weights, rated = elo.rate(len(short), pairs, verdicts)
        ends = elo.best_and_worst(rated) if fought else None
        if ends is None:
            it.count("judgment_tie")
            return None
        best, worst = ends
        confidence = elo.margin_confidence(rated[best], rated[worst])
        battles = [
            {"a": a, "b": c, "orders": v.orders, "winner": v.winner}
            for (a, c), v in zip(pairs, verdicts, strict=True)
        ]
        meta = {
            "pair": "judge", "response_index": index, "judgments": short,
            "judgment_scores": [parse_score(t, judged.maximum) for t in short],
            "variance": round(statistics.pvariance(judged.scores), 4), "battles": battles,
            "position_weights": [round(w, 4) for w in weights], "elo": rated,
            "chosen_index": best, "rejected_index": worst,
        }  # fmt: skip
        extra: dict[str, Any] = {"source": "ai_meta_judge:meta_rewarding", "question": prompt}
        extra.update(response=response, metadata=meta)
        why = (
            f"Judgement {best} rated {rated[best]} against {worst} at {rated[worst]} "
            f"over {len(fought)} position-weighted battles."
        )
        raw = "\n---\n".join(r for v in verdicts for r in v.raw)[:20000]
        verdict = JudgementDraft(
            verdicts[0].model, "meta_judge", verdicts[0].version, None, why, raw, confidence
        )
        return fmt.dpo(
            judge_prompt, short[best], short[worst], step="judge_pair", extra=extra, role="judge",
            prompt_version=judged.version, confidence=confidence, judgements=[verdict],
        )  # fmt: skip
