"""SPA, Spread Preference Annotation (METHODS.md #21): an APPROXIMATION, not the method.

Kim et al., "Spread Preference Annotation: Direct Preference Judgment for Efficient LLM
Alignment", ICLR 2025, arXiv 2406.04412 (reference code kingdy2002/SPA). The paper trains the
policy with DPO on a small human preference seed, labels pairs of its own responses by its
implicit reward β·[log π_θ(y|x) − log π_ref(y|x)], refines low-confidence labels and trains
again. Seedbed trains nothing, so (METHODS.md §9) a served aligned model and its reference
stand in for π_θ and π_ref:

② GEN 2 responses per seed prompt with the policy → ③ PLP: each response's summed logprob
under the `aligned` and the `reference` model, r(y) = β·[log p_aligned − log p_ref]; chosen =
the larger reward, margin m = r(chosen) − r(rejected) → ④ confidence 2σ(m) − 1; |m| < τ flags
the pair for human review (the run's "review below" tanh(τ/2) routes exactly those to people).
Where an endpoint cannot score a given text, or both roles are one model, a judge compares the
two responses in both orders instead; the sample says which labelled it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from generation.llm import CapabilityError
from generation.recipes import kit
from generation.recipes.base import JudgementDraft, RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.results import TextScored
from generation.recipes.kit.seeds import seed_prompt
from generation.recipes.spa_reward import (
    confidence,
    implicit_reward,
    preference,
    review_below,
    run_pair_report,
)

PROMPT_KINDS = frozenset({"instruction", "conversation", "text", "qa"})
SAME_MODEL = (
    "SPA with labeler implicit_reward needs two different models for the aligned and the "
    "reference roles (one model gives every response an implicit reward of 0): choose a "
    "reference endpoint, or use labeler auto to let the judge label the pairs."
)
ALIGNED = kit.Role(
    "aligned", "The preference-tuned model whose implicit reward labels the pairs (stands in "
    "for SPA's DPO-trained policy); it must return prompt logprobs. Defaults to the policy.",
    False, "policy",
)  # fmt: skip
REFERENCE = kit.Role(
    "reference", "The aligned model's reference (e.g. its SFT base) in the log-ratio; it must "
    "return prompt logprobs. Without it the judge labels the pairs.", False, None,
)  # fmt: skip
JUDGE = kit.Role(
    "judge", "Fallback labeller: compares the two responses in both orders where the implicit "
    "reward cannot be computed. Defaults to the policy.", False, "policy",
)  # fmt: skip


class Params(RecipeParams):
    labeler: Literal["auto", "implicit_reward", "judge"] = Field(
        "auto", description="auto = implicit reward where the aligned and reference endpoints "
        "return prompt logprobs and are two models, else the judge (noted); implicit_reward = "
        "required (the run fails without it); judge = always the judge.",
    )  # fmt: skip
    beta: float = Field(0.1, gt=0.0, le=10.0, description="β of the implicit reward.")
    tau: float = Field(
        0.5, ge=0.0, le=100.0, description="Pairs whose reward margin |m| is below this are "
        "flagged for human review (confidence below tanh(τ/2)).",
    )  # fmt: skip
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For the two responses.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=16, le=8192, description="Cut-off responses drop.")
    judge_logprobs: bool = Field(
        True, description="Fallback judge: soft labels from the logprobs of A and B where the "
        "endpoint returns them (hard labels otherwise).",
    )  # fmt: skip


@dataclass(frozen=True)
class Label:
    """Which response won (the first?), how likely and how sure, and what review shows."""

    first: bool
    p_chosen: float
    confidence: float | None
    low: bool  # flagged for human review
    metadata: dict[str, Any]
    judgement: JudgementDraft


def one_model(host: Any) -> bool:
    """Whether the aligned and reference roles are the same model on the same endpoint."""
    return bool(host.client("aligned")[1:] == host.client("reference")[1:])


@kit.register
class Spa(kit.Recipe[Params]):
    meta = kit.Meta(
        "spa", "SPA (approximation)", entry=21, version="1", output="preference",
        section="preference", inputs=PROMPT_KINDS, roles=(kit.POLICY, ALIGNED, REFERENCE, JUDGE),
        summary="An approximation of Spread Preference Annotation (the paper trains the policy; "
        "Seedbed cannot): the policy answers each prompt twice, the implicit reward "
        "β·[log p_aligned − log p_reference] of two served models labels the pair, and pairs "
        "with a small margin are flagged for human review.",
        needs=(
            kit.Need("MM", "an aligned model and its reference (e.g. a DPO model and its SFT base)",
                     "labeler auto: the judge labels pairs when both roles are one model"),
            *(kit.Need("PLP", f"log p(response | prompt) under the {role} model",
                       "labeler auto: the judge labels the pairs", role=role,
                       when=lambda p: p.labeler == "implicit_reward")
              for role in ("aligned", "reference")),
        ),
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "prompt", "The next seed prompt, in seed-set order (round robin)."),
        Step("GEN", "respond", "Two responses from the policy, temperature 0.7, top-p 1.0."),
        Step("CHECK", "responses", "Empty, cut-off and identical responses drop."),
        Step("JUDGE", "implicit_reward", "Each response's summed logprob after a plain "
             "transcript, under the aligned and the reference model (PLP); "
             "r = β·[log p_aligned − log p_ref], β 0.1."),
        Step("PAIR", "larger_reward", "Chosen = the larger reward; margin m = r(chosen) − "
             "r(rejected); exact ties drop."),
        Step("CHECK", "margin", "Confidence 2σ(m) − 1; |m| < τ (0.5) flags the pair for review."),
        Step("PAIRJ", "compare", "Fallback, without PLP or with one model for both roles: a "
             "judge compares A and B in both orders; confidence |2p(A) − 1|."),
        Step("FMT", "dpo", "prompt / chosen / rejected with both rewards, the margin, τ, the "
             "flag and which labeller decided."),
    )  # fmt: skip
    deviations = (
        "An approximation, not SPA: the paper's labeller is the policy itself after DPO "
        "training on the human seed (π_θ against its SFT reference π_ref), re-trained every "
        "round. Seedbed cannot train, so a served aligned model (e.g. a DPO or RLHF model) and "
        "its reference (e.g. its SFT base) stand in for π_θ and π_ref, scored through prompt "
        "logprobs (METHODS.md §9).",
        "No preference seed is read: the paper's small human preference seed (≈ 3.3 % of "
        "UltraFeedback) only trains the initial DPO model, which the aligned model replaces; "
        "the seed set gives the prompts (instruction, question, first user turn or text).",
        "Self-refinement is replaced by human review: the paper flips or smooths the least "
        "confident labels (10 % of each batch in the reference code, with logits extrapolated "
        "between the current and the reference model). Seedbed keeps each label as computed, "
        "gives it the confidence 2σ(|m|) − 1 and flags |m| < τ for review; τ (0.5) is ours.",
        "Only one round: the DPO training between rounds happens outside Seedbed; the next "
        "round is a new run with the newly trained model as policy and aligned.",
        "Scoring format: an OpenAI-compatible endpoint does not expose the model's chat "
        "template, so the prompt is rendered as a plain transcript (template transcript, "
        '"User: … Assistant:", which a project can override with the served model\'s chat '
        "template) and the response's tokens after it are summed; a token across the boundary "
        "counts to the response.",
        "Judge fallback, not in the paper: where an endpoint cannot return prompt logprobs, or "
        "aligned and reference are one model, a judge compares the two responses in both "
        "orders (our prompt); its confidence |2p(A) − 1| takes the margin's place, the flag "
        "applies at the same confidence tanh(τ/2), the sample's metadata says which labelled "
        "it and the run's notes count the fallbacks.",
        "Empty, cut-off (max_tokens 1024) and identical responses, and exact ties, drop (our "
        "rules; the reference code keeps 300-token responses as they come).",
    )

    @classmethod
    def report(cls, run: Any) -> dict[str, Any]:
        found = run_pair_report(run.pk)
        tau = float((run.params or {}).get("tau", Params.model_fields["tau"].default))
        found["flag_rule"] = f"|margin| < {tau:g}, i.e. confidence < {review_below(tau):g}"
        return found

    async def setup(self, run: Any) -> None:
        if run.params.labeler == "implicit_reward" and one_model(run):
            raise ValueError(SAME_MODEL)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("spa")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seeds = it.seeds
        it.check(bool(seeds), "no_prompts")
        seed = seeds[int(it.payload) % len(seeds)]
        it.use_seeds(seed)
        prompt = seed_prompt(seed)
        it.check(bool(prompt), "empty_prompt")
        answers = await it.gen(
            "respond", prompt=prompt, n=2, temperature=p.temperature, top_p=p.top_p,
            max_tokens=p.max_tokens,
        )  # fmt: skip
        texts = [t.strip() for t in answers.texts]
        it.check(len(texts) == 2 and all(texts), "empty_response")
        it.check(not answers.truncated, "truncated_response")
        it.check(texts[0] != texts[1], "identical_responses")
        found = "chosen" if p.labeler == "judge" else await self._by_reward(it, prompt, texts)
        if isinstance(found, Label):
            label = found
        else:
            label = await self._by_judge(it, prompt, texts, found)
        meta = {**label.metadata, "beta": p.beta, "tau": p.tau, "low_confidence": label.low}
        meta.update(review_below=review_below(p.tau), chosen_response=1 if label.first else 2)
        chosen, rejected = (texts[0], texts[1]) if label.first else (texts[1], texts[0])
        tags = [f"labelled_by:{meta['labelled_by']}"] + (["low_confidence"] if label.low else [])
        extra = {"source": f"{meta['labelled_by']}:spa", "metadata": meta, "tags": tags}
        return fmt.dpo(
            prompt, chosen, rejected, step=meta["labelled_by"], extra=extra,
            prompt_version=answers.version, judge_score=round(label.p_chosen, 4),
            confidence=label.confidence, judgements=[label.judgement],
        )  # fmt: skip

    async def _by_reward(self, it: kit.Item[Params], prompt: str, texts: list[str]) -> Label | str:
        """The label from the implicit reward; else why the judge labels instead (noted as
        "judge_fallback_same_model" or "judge_fallback_no_plp")."""
        p = it.params
        if one_model(it.host):  # with labeler implicit_reward the run was refused at setup
            it.note("judge_fallback_same_model")
            return "same_model"
        transcript = it.host.prompts["transcript"]
        context = transcript.render(prompt=prompt)
        strict = p.labeler == "implicit_reward"
        aligned = await _scores(it, "aligned", context, texts, strict)
        reference = await _scores(it, "reference", context, texts, strict) if aligned else None
        if aligned is None or reference is None:
            it.note("judge_fallback_no_plp")
            return "no_plp"
        it.check(all(s.count for s in (*aligned, *reference)), "unscored_response")
        if any(a.count != r.count for a, r in zip(aligned, reference, strict=True)):
            it.note("token_counts_differ")  # two tokenizers: still a ratio of text likelihoods
        rewards = [
            implicit_reward(p.beta, a.sum_logprob, r.sum_logprob)
            for a, r in zip(aligned, reference, strict=True)
        ]
        margin = rewards[0] - rewards[1]
        it.check(margin != 0.0, "tie", "equal implicit rewards")
        c, r = (0, 1) if margin > 0 else (1, 0)
        sure = confidence(margin)
        meta: dict[str, Any] = {
            "labelled_by": "implicit_reward",
            "reward_chosen": rewards[c],
            "reward_rejected": rewards[r],
            "margin": abs(margin),
            "p_chosen": round(preference(abs(margin)), 4),
            "logprobs": {
                name: {"aligned": aligned[i].sum_logprob, "reference": reference[i].sum_logprob,
                       "tokens": aligned[i].count, "reference_tokens": reference[i].count}
                for name, i in (("chosen", c), ("rejected", r))
            },
            "aligned_model": aligned[0].model,
            "reference_model": reference[0].model,
            "scoring": {"transcript": transcript.version, "method": aligned[0].method},
        }  # fmt: skip
        verdict = JudgementDraft(
            f"{aligned[0].model} / {reference[0].model}"[:200], "implicit_reward",
            transcript.version, round(abs(margin), 4),
            f"implicit reward β·[log p_aligned − log p_ref] (β {p.beta:g}): chosen "
            f"{rewards[c]:.4f}, rejected {rewards[r]:.4f}, margin {abs(margin):.4f}", "", sure,
        )  # fmt: skip
        low = abs(margin) < p.tau
        return Label(margin > 0, preference(abs(margin)), sure, low, meta, verdict)

    async def _by_judge(
        self, it: kit.Item[Params], prompt: str, texts: list[str], because: str
    ) -> Label:
        """The label from a pairwise judge asked in both orders."""
        p = it.params
        verdict = await it.pairj(
            "compare", texts[0], texts[1], swap=True, logprobs=p.judge_logprobs, prompt=prompt,
            max_tokens=8,
        )  # fmt: skip
        if verdict.p_a is None:
            raise kit.Drop("unparsable_label")
        it.check(verdict.p_a != 0.5, "tie", "the judge's two orders disagree")
        first = verdict.p_a > 0.5
        p_chosen = max(verdict.p_a, 1.0 - verdict.p_a)
        sure = verdict.confidence
        meta: dict[str, Any] = {
            "labelled_by": "judge",
            "judge_because": because,
            "p_chosen": round(p_chosen, 4),
            "p_a_orders": verdict.orders,
            "label_source": verdict.label_source,
            "judge_model": verdict.model,
        }
        draft = JudgementDraft(
            verdict.model, "compare", verdict.version, round(p_chosen, 4),
            f"response {1 if first else 2} preferred over both orders (p {p_chosen:.2f}, "
            f"{verdict.label_source} labels)", "\n---\n".join(verdict.raw)[:4000], sure,
        )  # fmt: skip
        low = sure is None or sure < review_below(p.tau)
        return Label(first, p_chosen, sure, low, meta, draft)


async def _scores(
    it: kit.Item[Params], role: str, context: str, texts: list[str], strict: bool
) -> list[TextScored] | None:
    """Each response scored after `context` by `role`'s model; None where it cannot score
    a given text (CapabilityError), unless strict."""
    got = await asyncio.gather(
        *(it.score_text(context, text, role=role) for text in texts), return_exceptions=True
    )
    scored: list[TextScored] = []
    for result in got:
        if isinstance(result, CapabilityError) and not strict:
            return None
        if isinstance(result, BaseException):
            raise result
        scored.append(result)
    return scored
