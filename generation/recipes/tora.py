"""ToRA: tool-integrated reasoning trajectories (METHODS.md #51), corpus generation.

① GEN a trajectory for a math problem, greedy: rationale → ```python``` block → EXEC in the
sandbox → its output appended as an ```output block → … → final \\boxed{} (rounds capped)
→ ② CHECK the final answer against the gold one (kit/answers.py); a trajectory whose code
raises or times out is dropped → ③ for a problem the greedy trajectory fails, GEN×n with
nucleus sampling and keep the correct ones (up to `keep`) → ④ FMT: the plain question →
one assistant reply holding the interleaved rationale, code and outputs, as ToRA-Corpus
stores it and as a ToRA model is run (it writes a block and stops at "```output"; the
runner splices the output into its own text). The output-space shaping stage samples from
the trained student and is out of scope (deviations).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import answers, fmt
from generation.recipes.tora_trajectory import Ask, Trajectory, problem, roll, worst


class Params(RecipeParams):
    max_rounds: int = Field(
        3, ge=1, le=8, description="Python blocks run per trajectory; one more is dropped."
    )
    samples: int = Field(
        10, ge=0, le=64,
        description="Nucleus-sampled trajectories for a problem the greedy one fails (0: none).",
    )  # fmt: skip
    keep: int = Field(4, ge=1, le=16, description="Correct sampled trajectories kept a problem.")
    temperature: float = Field(0.6, ge=0.0, le=2.0, description="For the sampled trajectories.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus mass of the samples.")
    answer_kind: answers.Kind = Field(
        "auto", description="How answers are read and matched to the gold one (auto: by gold)."
    )
    max_tokens: int = Field(512, ge=32, le=4096, description="Per reply (one round).")
    output_chars: int = Field(
        100, ge=20, le=4000, description="A longer output is cut to its head and tail."
    )
    wall_s: float = Field(5.0, gt=0.0, le=60.0, description="Sandbox time per Python block.")


@kit.register
class ToRA(kit.Recipe[Params]):
    meta = kit.Meta(
        "tora", "ToRA (tool-integrated reasoning)", entry=51, version="1", output="sft",
        section="agent_flows", inputs=frozenset({"qa"}), roles=(kit.POLICY,),
        summary="Math problems solved by interleaving rationale, Python run in the sandbox and "
        "its output, until a boxed answer; kept when it matches the gold answer, with sampled "
        "retries for the problems the greedy trajectory misses.",
        needs=(
            kit.Need("SBX", "every Python block runs in the sandbox"),
            kit.Need("N", "sampled trajectories for missed problems",
                     "single requests in parallel (automatic)", when=lambda p: p.samples > 0),
        ),
    )  # fmt: skip
    steps = (
        Step("GEN", "solve", "Rationale and one Python block, greedy; stops at ```output."),
        Step("EXEC", "run", "The block runs alone in the sandbox; its stdout is the output."),
        Step("GEN", "continue", "The output is appended; the model goes on (≤ max_rounds)."),
        Step("CHECK", "gold", "Code that raised or timed out, no answer, a wrong one: dropped."),
        Step("GEN", "sample", "A missed problem: n nucleus-sampled trajectories, same loop."),
        Step("CHECK", "keep", "Correct sampled trajectories, distinct, up to keep."),
        Step("FMT", "sft", "Question → one reply with rationale, code and outputs interleaved."),
    )
    deviations = (
        "Output-space shaping (sampling from the trained ToRA student, keeping valid "
        "trajectories, the teacher correcting invalid ones from a prefix) needs a trained "
        "student and is not done; a run against a served student model gives the samples.",
        "The teacher talks over chat: each output block comes back as a user turn and the "
        "next reply goes on; the stored sample joins them into one reply as ToRA-Corpus does.",
        "One built-in worked example of ours instead of the paper's GSM8K/MATH few-shot "
        "prompts; the sandbox has the standard library only (no sympy), and the prompt says so.",
        "Answers are matched by Seedbed's GAIA-style scorer (kit/answers.py), not the Hendrycks "
        "MATH grader; constants we chose (the paper gives none): 3 rounds, temperature 0.6.",
        "A trajectory whose code raises is dropped, not continued (the row's filter); ToRA's "
        "inference shows the error to the model.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("tora", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        question, gold, kind = problem(it, p.answer_kind)
        prompt = it.host.prompts["solve"].render(question=question)

        def ask(**options: Any) -> Ask:
            options["max_tokens"] = p.max_tokens
            return Ask(
                question, prompt, gold, kind, p.max_rounds, options, p.output_chars, p.wall_s
            )

        greedy = (await roll(it, ask(temperature=0.0), 1))[0]
        if greedy.ok:
            return self.piece(it, question, gold, greedy, tried=[greedy], sampled=False)
        tried = [greedy]
        it.check(p.samples > 0, *worst(tried))
        sampled = await roll(it, ask(temperature=p.temperature, top_p=p.top_p), p.samples)
        tried += sampled
        good: dict[str, Trajectory] = {}
        for t in sampled:
            if t.ok and len(good) < p.keep:
                good.setdefault(t.text(), t)
        it.check(bool(good), *worst(tried))
        return [
            self.piece(it, question, gold, t, tried=tried, sampled=True, suffix=f"s{k}")
            for k, t in enumerate(good.values())
        ]

    @staticmethod
    def piece(
        it: kit.Item[Params],
        question: str,
        gold: str,
        t: Trajectory,
        *,
        tried: list[Trajectory],
        sampled: bool,
        suffix: str = "",
    ) -> kit.Piece:
        failures: dict[str, int] = {}
        for other in tried:
            if other.failure:
                failures[other.failure] = failures.get(other.failure, 0) + 1
        step, tag = ("sample", "sampled") if sampled else ("solve", "greedy")
        extra = {
            "gold": gold,
            "answer": t.answer,
            "steps": t.steps(),
            "trajectory_id": it.key,
            "tags": [tag],
            "metadata": {
                "rounds": len(t.rounds),
                "boxed": "\\boxed" in t.final,
                "sampled": sampled,
                "tried": len(tried),
                "failures": failures,
            },
        }
        return fmt.sft(question, t.text(), step=step, suffix=suffix, extra=extra)
