"""UDASA, Uncertainty-Driven Adaptive Self-Alignment (METHODS.md #23; Sun, Zhang & Zeng,
"An Uncertainty-Driven Adaptive Self-Alignment Framework for Large Language Models",
arXiv 2507.17477, 2025; no public code).

① GEN×n responses per prompt → ② uncertainty of each on three axes: semantic (1 − mean
embedding cosine to the other responses, Seedbed's local MiniLM), factual (a judge that
checks the claims, with the other responses as a self-consistency reference) and value
alignment (a helpful/honest/harmless judge), combined as a weighted mean u → ③ PAIR the
most reliable response (lowest u) against a sub-optimal one → ④ Δu = u(rejected) −
u(chosen); Δu at or below a minimum drops; the stage is conservative / moderate /
exploratory by thresholds on Δu → ⑤ FMT DPO, the stage as a tag. Training stage by stage
(progressive DPO) happens outside Seedbed: export one stage at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from generation.recipes import kit
from generation.recipes import udasa_uncertainty as unc
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt, pools
from generation.recipes.kit.results import Judged
from generation.recipes.kit.seeds import seed_prompt

PROMPT_KINDS = frozenset({"instruction", "conversation", "text", "qa"})
SCALE = 5.0  # both judges score 0-5
OTHERS_CHARS = 1500  # of each other response shown to the factual judge


class Params(RecipeParams):
    n_responses: int = Field(5, ge=2, le=16, description="Responses per prompt (n).")
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=16, le=8192)
    weight_semantic: float = Field(
        1.0, ge=0.0, le=10.0, description="Weight of semantic uncertainty (0: not computed)."
    )
    weight_factual: float = Field(
        1.0, ge=0.0, le=10.0, description="Weight of factual uncertainty (0: not judged)."
    )
    weight_value: float = Field(
        1.0, ge=0.0, le=10.0, description="Weight of value-alignment uncertainty (0: not judged)."
    )
    factual_self_check: bool = Field(
        True, description="Show the factual judge the other responses as a consistency check."
    )
    judge_samples: int = Field(3, ge=1, le=10, description="Judgements averaged per axis.")
    judge_temperature: float = Field(0.7, ge=0.0, le=2.0)
    rejected: Literal["median", "next", "worst"] = Field(
        "median", description="Which sub-optimal response is rejected: the middle of the "
        "others by u, the next after the chosen, or the least reliable.",
    )  # fmt: skip
    min_delta: float = Field(
        0.0, ge=0.0, le=1.0, description="Pairs whose Δu is at or below this drop (0: ties)."
    )
    moderate_at: float = Field(
        0.1, ge=0.0, le=1.0, description="Δu from here is moderate; below it, exploratory."
    )
    conservative_at: float = Field(
        0.25, gt=0.0, le=1.0, description="Δu from here is conservative (clear gaps first)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.weight_semantic + self.weight_factual + self.weight_value <= 0:
            raise ValueError("at least one axis weight must be above 0")
        if self.moderate_at > self.conservative_at:
            raise ValueError("moderate_at is above conservative_at")
        return self

    @property
    def weights(self) -> dict[str, float]:
        return {"semantic": self.weight_semantic, "factual": self.weight_factual,
                "value": self.weight_value}  # fmt: skip


def others_block(texts: Sequence[str], i: int) -> str:
    """The other responses, for the factual judge's self-consistency check."""
    shown = [f"<answer>\n{t[:OTHERS_CHARS]}\n</answer>" for j, t in enumerate(texts) if j != i]
    return "\n<other_answers>\n" + "\n".join(shown) + "\n</other_answers>\n" if shown else ""


def _embed(texts: list[str]) -> tuple[str, Any]:
    embedder = pools.local()  # the run's embedder, as DEDUP-E reaches it (kit/pools.py)
    return embedder.name, embedder.encode(texts)


@kit.register
class Udasa(kit.Recipe[Params]):
    meta = kit.Meta(
        "udasa", "UDASA", entry=23, version="1", output="preference", section="preference",
        inputs=PROMPT_KINDS, roles=(kit.POLICY, kit.JUDGE),
        summary="n responses per prompt scored for semantic, factual and value uncertainty; "
        "the most reliable against a sub-optimal one, staged by their uncertainty gap.",
        needs=(
            kit.Need("N", "5 responses per prompt", "single requests in parallel (automatic)"),
            kit.Need("EMB", "semantic uncertainty from embedding dispersion",
                     "Seedbed's local MiniLM, no endpoint needed; ROUGE-L if it cannot load",
                     when=lambda p: p.weight_semantic > 0),
        ),
    )  # fmt: skip
    steps = (
        Step("GEN", "respond", "n = 5 responses per prompt (T 0.8, top-p 0.95)."),
        Step("DEDUP-E", "semantic", "Semantic uncertainty: 1 − mean cosine of each response's "
             "embedding to the others' (nothing is removed)."),
        Step("JUDGE", "factual", "Factual uncertainty: 1 − score/5 of a 0-5 factuality judge "
             "that sees the other responses as a consistency check; 3 samples averaged."),
        Step("JUDGE", "value", "Value uncertainty: 1 − score/5 of a 0-5 helpful / honest / "
             "harmless judge; 3 samples averaged."),
        Step("PAIR", "reliable_vs_suboptimal", "u = weighted mean of the three; chosen: the "
             "lowest u; rejected: the median of the others by u (or next / worst)."),
        Step("CHECK", "delta_u", "Δu = u(rejected) − u(chosen); Δu ≤ 0 (the minimum) drops."),
        Step("FMT", "dpo", "Stage by Δu: conservative ≥ 0.25 > moderate ≥ 0.1 > exploratory; "
             "tag stage:<stage>, u vectors and Δu in metadata."),
    )  # fmt: skip
    deviations = (
        "n = 5, the equal axis weights and the stage thresholds (0.1, 0.25) are ours: the "
        "paper does not publish them [~]; all are settings.",
        "Factual uncertainty comes from an LLM judge (0-5, 3 samples) shown the other "
        "responses as a self-consistency reference (SelfCheckGPT-style), not from a "
        "separate fact-checking model or retrieval.",
        "Value-alignment uncertainty comes from an LLM judge with a helpful / honest / "
        "harmless rubric, not from a trained reward model. Both judge prompts are ours.",
        "Semantic uncertainty is each response's embedding dispersion (1 − mean cosine to "
        "the other responses) on Seedbed's local MiniLM, whatever the endpoint; the paper's "
        "exact semantic measure is not public. ROUGE-L stands in if the embedder cannot load.",
        "Rejected is the median of the other responses by u by default ('a sub-optimal "
        "response'; the paper does not say which one); next and worst are settings.",
        "Δu thresholds are fixed per run, not adapted to the run's own Δu distribution.",
        "Progressive DPO over the stages happens outside Seedbed: each pair carries its "
        "stage (tag stage:<stage>) for exporting one stage at a time.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("udasa", run.seeds)

    @classmethod
    def report(cls, run: Any) -> dict[str, Any]:
        from django.db.models import Count  # a database read, like zerogen's report

        from curation.samples.models import Sample

        rows = Sample.objects.filter(run_id=run.pk).values("extra__metadata__stage")
        counts = {r["extra__metadata__stage"]: r["n"] for r in rows.annotate(n=Count("pk"))}
        return {"stages": {s: counts.get(s, 0) for s in unc.STAGES}}

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed: SeedRow = it.payload
        it.use_seeds(seed)
        prompt = seed_prompt(seed)
        answers = await it.gen("respond", prompt=prompt, n=p.n_responses, temperature=p.temperature,
                               top_p=p.top_p, max_tokens=p.max_tokens)  # fmt: skip
        texts = [t.strip() for t in answers.texts]
        usable = [i for i, t in enumerate(texts) if t]
        it.check(len(usable) >= 2, "empty_responses", f"{len(usable)} of {len(texts)}")
        shown = [texts[i] for i in usable]
        axes: dict[str, list[float | None]] = {}
        method: str | None = None
        if p.weight_semantic > 0:
            axes["semantic"], method = await self.semantic(it, shown)
        judged = await self.judge(it, prompt, shown)
        for axis, got in judged.items():
            axes[axis] = [unc.from_score(j.score, SCALE) for j in got]
        u = unc.combine(axes, p.weights)
        pair = unc.pick(u, p.rejected)
        it.check(pair.delta > p.min_delta, "no_uncertainty_gap", f"Δu {pair.delta}")
        stage = unc.stage(pair.delta, p.moderate_at, p.conservative_at)
        best, worse = pair.chosen, pair.rejected
        verdicts = [
            fmt.judgement(f"{side} {axis}", got[i])
            for side, i in (("chosen", best), ("rejected", worse))
            for axis, got in judged.items()
        ]
        sure = unc.pair_confidence(pair.delta, p.conservative_at, [v.confidence for v in verdicts])
        scores = [s for s in (got[best].score for got in judged.values()) if s is not None]
        per_response: list[dict[str, Any] | None] = [None] * len(texts)
        for k, i in enumerate(usable):
            per_response[i] = {a: axes[a][k] for a in axes} | {"u": u[k]}
        weights = {a: round(w, 4) for a, w in unc.normalised(p.weights).items()}
        metadata = {
            "stage": stage, "delta_u": pair.delta, "u_chosen": u[best], "u_rejected": u[worse],
            "chosen": usable[best], "rejected": usable[worse], "rejected_rule": p.rejected,
            "uncertainty": per_response, "weights": weights,
            "thresholds": {"min_delta": p.min_delta, "moderate_at": p.moderate_at,
                           "conservative_at": p.conservative_at},
            "semantic_method": method,
            "judge_samples": {a: [j.scores for j in got] for a, got in judged.items()},
        }  # fmt: skip
        extra = {"source": "uncertainty:udasa", "tags": [f"stage:{stage}"], "metadata": metadata}
        return fmt.dpo(
            prompt, shown[best], shown[worse], step="reliable_vs_suboptimal", extra=extra,
            prompt_version=answers.version, judgements=verdicts, confidence=sure,
            judge_score=round(sum(scores) / len(scores), 4) if scores else None,
        )  # fmt: skip

    async def semantic(self, it: kit.Item[Params], texts: list[str]) -> tuple[list[Any], str]:
        """One journaled step: a resumed item reads the dispersions back, never re-embeds."""

        async def compute() -> dict[str, Any]:
            try:
                model, vectors = await asyncio.to_thread(_embed, texts)
            except (ImportError, OSError):  # no local embedder: ROUGE-L stands in
                return {"method": "rouge_l", "u": unc.lexical_dispersion(texts)}
            return {"method": f"embedding:{model}", "u": unc.dispersion(vectors)}

        got = await it.compute("embed", compute)
        if got["method"] == "rouge_l":
            it.note("semantic_by_rouge_l")
        return list(got["u"]), str(got["method"])

    async def judge(
        self, it: kit.Item[Params], prompt: str, texts: list[str]
    ) -> dict[str, list[Judged]]:
        """The factual and value judges (those whose weight is above 0), all concurrently."""
        p = it.params
        ask: dict[str, Any] = {"prompt": prompt, "samples": p.judge_samples,
                               "temperature": p.judge_temperature, "maximum": SCALE}  # fmt: skip
        calls: dict[str, list[Any]] = {}
        if p.weight_factual > 0:
            calls["factual"] = [
                it.judge("factual", response=t, **ask,
                         others=others_block(texts, i) if p.factual_self_check else "")
                for i, t in enumerate(texts)
            ]  # fmt: skip
        if p.weight_value > 0:
            calls["value"] = [it.judge("value", response=t, **ask) for t in texts]
        flat = await asyncio.gather(*(c for group in calls.values() for c in group))
        out, at = {}, 0
        for axis, group in calls.items():
            out[axis], at = list(flat[at : at + len(group)]), at + len(group)
        return out
