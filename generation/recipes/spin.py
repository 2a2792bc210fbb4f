"""SPIN: Self-Play Fine-Tuning (METHODS.md #3; Chen et al., ICML 2024, arXiv 2401.01335).

① SAMPLE each SFT row of the seed set (prompt, gold answer) → ② GEN the policy model's
answer, the "opponent" (T 1.0, top-p 1.0, 256 tokens, as the reference's generate_vllm.py)
→ ③ CHECK: skip an empty answer, one equal to the gold after whitespace normalisation, and
one ≈ gold (ROUGE-L F ≥ 0.9) → ④ PAIR chosen = the gold answer byte for byte, rejected = the
model's answer → ⑤ FMT DPO. Iteration t ≥ 1 needs the model trained with the SPIN loss on
iteration t−1's pairs: it is a new run, the next round of this one, on the trained endpoint
(spin_rounds.py lists the rounds and the run ids that export them together).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit, spin_rounds
from generation.recipes.base import JudgementDraft, RecipeParams, Step
from generation.recipes.kit import answers
from generation.recipes.spin_rows import QaGold, SftRow, rows, similarity, squash

SOURCE = "spin:gold_vs_policy"
CAP_WHEN_RIGHT = 0.5  # a qa answer that reaches the gold answer differs in wording only


class Params(RecipeParams):
    qa_gold: QaGold = Field(
        "solution",
        description="qa seeds: the worked solution as the gold answer when the seed has one, "
        "else the answer ('answer': always the answer).",
    )
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="The model's answer (ref.: 1.0).")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(
        256, ge=16, le=8192, description="Tokens of the model's answer (reference: 256)."
    )
    near_gold: float = Field(
        0.9,
        gt=0.0,
        le=1.0,
        description="Skip a pair whose answer has ROUGE-L F at or above this against the gold "
        "(≈ gold); 1.0 skips only the same words in the same order.",
    )
    judge_pairs: bool = Field(
        False,
        description="Ask the judge, in both orders, whether the gold beats the model's answer: "
        "its certainty becomes the pair's confidence (no pair is dropped).",
    )


def confidence_of(similar: float, reached: bool | None) -> float:
    """How clearly the pair tells the gold from the opponent: 1 − ROUGE-L, at most 0.5 when
    a qa answer reaches the gold final answer (the preference then rests on wording)."""
    value = round(1.0 - similar, 4)
    return min(value, CAP_WHEN_RIGHT) if reached else value


def judged_confidence(p_gold: float | None, certainty: float | None) -> float | None:
    """The judge's certainty that the gold wins; 0 when it prefers the model's answer or ties."""
    if p_gold is None or certainty is None:
        return None
    return certainty if p_gold > 0.5 else 0.0


@kit.register
class Spin(kit.Recipe[Params]):
    meta = kit.Meta(
        "spin", "SPIN (Self-Play Fine-Tuning)", entry=3, version="1", output="preference",
        section="self_play", inputs=frozenset({"qa", "conversation", "instruction"}),
        roles=(kit.POLICY, kit.JUDGE),
        summary="Gold SFT answers against the model's own answers: chosen = the gold answer "
        "byte for byte, rejected = what the policy model writes; one iteration per run.",
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "sft_rows", "Every SFT row once: qa, instruction instances, chats."),
        Step("GEN", "respond", "The policy model answers the prompt: T 1.0, 256 tokens."),
        Step("CHECK", "same_as_gold", "Empty, equal to gold (whitespace aside) or ≈ gold skip."),
        Step("PAIRJ", "compare", "Optional: gold vs answer, both orders, for the confidence."),
        Step("PAIR", "gold_vs_policy", "chosen = gold byte for byte, rejected = the answer."),
        Step("FMT", "dpo", "prompt / chosen / rejected with the pair's confidence."),
    )
    deviations = (
        "One iteration per run: the SPIN loss (β = 0.1) trains the model between iterations "
        "outside Seedbed. Iteration t is the next round of the run before it, on the trained "
        "endpoint; no pair is copied between rounds: the run's figures list the earlier "
        "rounds and the run ids that export them together (the reference trains iteration t "
        "on its own pairs and iteration t−1's).",
        "The model answers through the endpoint's chat template (the prompt as one user "
        "turn, or a conversation's earlier turns), not the reference's plain '### "
        "Instruction: … ### Response:' completion prompt; leading whitespace of the answer is "
        "removed, as the reference does.",
        "Seedbed's skip rules (METHODS.md: app choice): an empty answer, one equal to the gold "
        "after whitespace normalisation, and one ≈ gold (ROUGE-L F ≥ 0.9 over casefolded "
        "words, CJK by character).",
        "Seed kinds beyond the paper's single-turn UltraChat rows: qa (the worked solution "
        "when there is one, else the answer; a rationale is not glued on), instruction "
        "instances (the output), and conversations that end with the assistant (the earlier "
        "turns are the prompt).",
        "The pair's confidence is ours (the paper has no judge): 1 − ROUGE-L of gold and "
        "answer, at most 0.5 when a qa answer reaches the gold final answer; with the "
        "optional judge, its certainty over both orders that the gold is better (0 when it "
        "prefers the model's answer).",
    )

    @classmethod
    def report(cls, run: Any) -> dict[str, Any]:
        return spin_rounds.report(run)

    def source(self, run: Any) -> Any:
        return ((row.key, row) for row in rows(run.seeds, run.params.qa_gold))

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        row: SftRow = it.payload
        it.use_seeds(row.seed)
        it.check(not row.problem, row.problem)
        it.check(bool(row.gold.strip()), "empty_gold")
        ask: dict[str, Any] = {"temperature": p.temperature, "top_p": p.top_p}
        ask["max_tokens"] = p.max_tokens
        prompt = row.single_turn
        if prompt is not None:
            made = await it.gen("respond", prompt=prompt, **ask)
        else:
            made = await it.gen(messages=row.context, **ask)
        output = made.text.lstrip()
        it.check(bool(output.strip()), "empty_output")
        it.check(squash(output) != squash(row.gold), "same_as_gold")
        similar = similarity(row.gold, output)
        it.check(similar < p.near_gold, "near_gold", f"ROUGE-L {similar}")
        if made.truncated:
            it.note("answer_cut_at_max_tokens")
        reached = None
        if row.final_answer:
            kind = answers.kind_of(row.final_answer)
            reached = answers.matches(answers.extract(output, kind), row.final_answer, kind)
        metadata = {"seed_kind": row.seed.kind, "gold_field": row.gold_field, **row.meta}
        metadata |= {"rouge_l_to_gold": similar, "truncated": made.truncated}
        metadata["reached_gold_answer"] = reached
        extra: dict[str, Any] = {"source": SOURCE, "gold": row.gold, "metadata": metadata}
        opts: dict[str, Any] = {"step": "gold_vs_policy", "prompt_version": made.version}
        opts["confidence"] = confidence_of(similar, reached)
        if p.judge_pairs:
            opts |= await self.judged(it, row, output)
        chosen = [{"role": "assistant", "content": row.gold}]
        rejected = [{"role": "assistant", "content": output}]
        return kit.Piece("preference", row.context, chosen, rejected, extra=extra, **opts)

    async def judged(self, it: kit.Item[Params], row: SftRow, output: str) -> dict[str, Any]:
        """PAIRJ gold (A) vs the model's answer (B) in both orders: the confidence, the score
        (p that the gold is better) and the judgement row; an unparsable verdict leaves the
        confidence unknown (people see the pair), it removes nothing."""
        verdict = await it.pairj("compare", row.gold, output, prompt=row.shown(), max_tokens=16)
        certainty = judged_confidence(verdict.p_a, verdict.confidence)
        if verdict.p_a is None:
            it.note("unjudged_pair")
        draft = JudgementDraft(
            verdict.model, "compare", verdict.version, verdict.p_a,
            f"p(gold better) {verdict.p_a} over orders {verdict.orders}",
            "\n---\n".join(verdict.raw), certainty,
        )  # fmt: skip
        return {"confidence": certainty, "judge_score": verdict.p_a, "judgements": [draft]}
