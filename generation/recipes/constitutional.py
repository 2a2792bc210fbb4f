"""Constitutional AI (METHODS.md #18): critique → revision chains, and AI preference labels.

SL-CAI: ① GEN a first response → ② SAMPLE a critique/revision principle, GEN critique →
③ GEN revision → ④ repeat with a fresh random principle (up to 4) → ⑤ FMT prompt → final
revision, the chain in metadata. RL-CAI: ⑥ GEN 2 responses; SAMPLE a comparison
principle; PAIRJ multiple choice (A)/(B): p(A) from normalised token logprobs (soft
label), else a hard label; chain-of-thought labels are clamped to [0.4, 0.6] → PAIR.
The constitution is an editable prompt template (JSON), versioned like any other prompt.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.constitution import clamp, parse_constitution
from generation.recipes.kit import fmt
from generation.recipes.kit.seeds import seed_prompt


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
    swap_order: bool = Field(
        False, description="Also ask with B first and average p(A) (cancels position bias)."
    )
    max_tokens: int = Field(768, ge=16, le=8192)


@kit.register
class ConstitutionalAI(kit.Recipe[Params]):
    meta = kit.Meta(
        "constitutional_ai", "Constitutional AI", entry=18, version="2", output="sft+preference",
        section="preference", roles=(kit.POLICY, kit.JUDGE), yield_per_item=2.0,
        summary="Critique and revise responses against sampled principles (SFT), and label "
        "response pairs by principle with logprob soft labels (preference).",
        inputs=frozenset({"instruction", "conversation", "text", "qa"}),
        needs=(kit.Need("LP", "soft labels from the (A)/(B) token logprobs",
                        "label_mode=hard (or cot): a label from the judge's text", role="judge",
                        when=lambda p: p.mode != "sl" and p.label_mode == "logprobs"),),
    )  # fmt: skip
    steps = (
        Step("GEN", "respond", "A first response to the (red-team) prompt."),
        Step("SAMPLE", "principle", "A critique/revision pair from the constitution."),
        Step("GEN", "critique", "Critique the response against the principle."),
        Step("GEN", "revision", "Revise the response; repeat with a fresh principle."),
        Step("FMT", "sft", "prompt → final revision, chain in metadata."),
        Step("GEN", "pair", "Two responses for the preference label."),
        Step("PAIRJ", "compare", "Multiple choice (A)/(B) under a comparison principle."),
        Step("PAIR", "soft_label", "p(A) from logprobs; CoT clamps to [0.4, 0.6]."),
    )
    deviations = (
        "Principles and few-shot examples are ours (16 + 16 principles; 2 examples each for "
        "critique and revision, 1 for comparison, instead of the paper's 5), written in the "
        "spirit of the published constitution.",
        "Comparisons use one sampled principle per pair, not an ensemble over principles.",
        "Responses come from the run's endpoint, not from a separately trained SL-CAI model.",
    )

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        if name == "constitution":
            parse_constitution(text)

    async def setup(self, run: Any) -> None:
        self.constitution = parse_constitution(run.prompts["constitution"].text)

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("cai", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        seed: SeedRow = it.payload
        it.use_seeds(seed)
        prompt = seed_prompt(seed)
        pieces: list[kit.Piece] = []
        if it.params.mode in ("both", "sl"):
            pieces.append(await self.revise(it, prompt))
        if it.params.mode in ("both", "rl"):
            try:
                pieces.append(await self.compare(it, prompt))
            except kit.Drop as drop:
                if not pieces:
                    raise
                it.count(drop.reason)
        return pieces

    async def revise(self, it: kit.Item[Params], prompt: str) -> kit.Piece:
        p = it.params
        greedy: dict[str, Any] = {"temperature": 0.0, "max_tokens": p.max_tokens}
        first = await it.gen("respond", prompt=prompt, temperature=p.temperature,
                             max_tokens=p.max_tokens)  # fmt: skip
        response = first.text.strip()
        it.check(bool(response), "empty_response")
        chain: list[dict[str, str]] = []
        critiques = self.constitution["critiques"]
        for principle in await it.sample(_repeat(critiques, p.n_revisions), p.n_revisions):
            asked = {"critique_request": principle["critique"]}
            critique = await it.gen("critique", prompt=prompt, response=response, **asked, **greedy)
            asked |= {"critique": critique.text.strip(), "revision_request": principle["revision"]}
            revision = await it.gen("revision", prompt=prompt, response=response, **asked, **greedy)
            chain.append({**asked, "revision": revision.text.strip() or response})
            response = chain[-1]["revision"]
        extra = {"initial_response": first.text, "chain": chain,
                 "constitution_version": it.host.prompts["constitution"].version}  # fmt: skip
        return fmt.sft(prompt, response, suffix="sl", step="revision", extra=extra)

    async def compare(self, it: kit.Item[Params], prompt: str) -> kit.Piece:
        p = it.params
        pair = await it.gen("respond", prompt=prompt, n=2, temperature=p.pair_temperature,
                            max_tokens=p.max_tokens)  # fmt: skip
        a, b = (t.strip() for t in pair.texts[:2])
        it.check(a != b, "identical_responses")
        (principle,) = await it.sample(self.constitution["comparisons"], 1)
        cot, soft = p.label_mode == "cot", p.label_mode == "logprobs"
        verdict = await it.pairj("compare_cot" if cot else "compare", a, b, swap=p.swap_order,
                                 logprobs=soft, prompt=prompt, principle=principle,
                                 max_tokens=512 if cot else 2)  # fmt: skip
        if verdict.p_a is None:
            raise kit.Drop("unparsable_label")
        p_a = clamp(verdict.p_a) if cot else verdict.p_a
        it.check(p_a != 0.5, "tie")
        chosen, rejected = (a, b) if p_a > 0.5 else (b, a)
        hard = soft and verdict.label_source != "logprobs"
        extra = {
            "source": "ai_judge:constitutional_ai",
            "p_a": p_a,
            "p_chosen": max(p_a, 1 - p_a),
            "p_a_orders": verdict.orders,
            "label_mode": "hard (no logprobs from the endpoint)" if hard else p.label_mode,
            "principle": principle,
            "judge_output": "\n---\n".join(verdict.raw)[:2000],
            "constitution_version": it.host.prompts["constitution"].version,
        }
        return fmt.dpo(prompt, chosen, rejected, suffix="rl", step="soft_label", extra=extra,
                       prompt_version=verdict.version, judge_score=max(p_a, 1 - p_a))  # fmt: skip


def _repeat(principles: list[Any], n: int) -> list[Any]:
    """Enough principles to draw n (a fresh one each round; repeats once the list runs out)."""
    return principles * (1 + n // max(1, len(principles)))
