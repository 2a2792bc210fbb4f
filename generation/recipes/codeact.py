"""CodeAct / CodeActInstruct: multi-turn code-action trajectories (METHODS.md #56).

① A single-turn task with a checker (a qa seed: question and gold answer) becomes an
interactive one: the agent is told it works with a Python interpreter, has `max_turns`
turns and may propose a solution `max_proposals` times (the `max5_p2` configs) → ② the
agent GENs a thought and a code action (<execute>…</execute>) → ③ EXEC in the sandbox, a
kernel emulated by re-running the earlier cells (codeact_session.py); its output or
error is the observation → ④ loop until a solution or the turn cap (past it, dropped) →
⑤ CHECK each proposed solution against the gold answer ("Your answer is wrong." is fed
back while proposals are left); a trajectory that erred first and then got it right is
tagged `self_corrected` → ⑥ FMT the chat as a tool trajectory: code actions stay in the
assistant's text, observations come as user turns, as CodeActInstruct stores them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.codeact_session import (
    INVALID,
    KERNEL,
    STOP,
    Session,
    action_of,
    observation,
    turn_info,
)
from generation.recipes.kit import answers, fmt
from generation.recipes.tora_trajectory import problem


class Params(RecipeParams):
    max_turns: int = Field(5, ge=1, le=20, description="Agent turns (actions) at most.")
    max_proposals: int = Field(2, ge=1, le=10, description="Solutions it may propose.")
    only_self_corrected: bool = Field(
        False, description="Keep only trajectories that erred first and then recovered."
    )
    persistent: bool = Field(
        True, description="Re-run the earlier cells before each new one (a kernel)."
    )
    answer_kind: answers.Kind = Field(
        "auto", description="How answers are read and matched to the gold one (auto: by gold)."
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=32, le=4096, description="Per agent turn.")
    output_chars: int = Field(2000, ge=50, le=20000, description="Observation length at most.")
    wall_s: float = Field(5.0, gt=0.0, le=60.0, description="Sandbox time per cell.")


@kit.register
class CodeAct(kit.Recipe[Params]):
    meta = kit.Meta(
        "codeact", "CodeAct (CodeActInstruct)", entry=56, version="1", output="tool_trajectory",
        section="environments", inputs=frozenset({"qa"}), roles=(kit.POLICY,),
        summary="Questions with gold answers become interactive tasks: the agent writes Python "
        "actions, sees their output from the sandbox, proposes answers that are checked; kept "
        "when right within the turn cap, tagged self_corrected when it recovered from an error.",
        needs=(kit.Need("SBX", "every code action runs in the sandbox"),),
    )  # fmt: skip
    steps = (
        Step("GEN", "task", "The task as an interactive one: tools, turn and proposal limits."),
        Step("GEN", "act", "A thought and a code action (<execute>) or a <solution>."),
        Step("EXEC", "cell", "The cell runs in the sandbox after the earlier ones (a kernel)."),
        Step("CHECK", "solution", "A proposal vs the gold answer; wrong: fed back while left."),
        Step("CHECK", "turn_cap", "No right answer within max_turns turns: dropped."),
        Step("CHECK", "self_corrected", "An error or wrong answer before the right one: tagged."),
        Step("FMT", "trajectory", "The chat; observations as user turns, steps for review."),
    )
    deviations = (
        "A Jupyter kernel is emulated: each cell runs in a fresh sandbox process after the "
        "earlier cells (their output and errors discarded; those stopped by a limit left "
        "out), so random or time-dependent state can differ from turn to turn.",
        "Tasks are qa seeds with gold answers (MATH/GSM-style); HotpotQA's search tool, APPS "
        "tests, WikiTableQuestions tables and ALFWorld are not included.",
        "No feedback agent (MINT's F=None configs): wrong answers get a fixed line; the "
        "sandbox has the standard library only. Prompt wording and example are ours.",
        "The preference for error-then-recovery trajectories is a tag (`self_corrected`) and "
        "an optional filter (`only_self_corrected`), not the paper's down-sampling.",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("codeact", run.seeds)

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        question, gold, kind = problem(it, p.answer_kind)
        task: dict[str, Any] = {"question": question, "max_turns": str(p.max_turns)}
        task["max_proposals"] = str(p.max_proposals)
        s = Session([{"role": "user", "content": it.host.prompts["task"].render(**task)}])
        ask: dict[str, Any] = {"temperature": p.temperature, "max_tokens": p.max_tokens}
        ask["stop"] = STOP

        def left() -> str:  # after the action being taken
            return turn_info(p.max_turns - s.turns - 1, p.max_proposals - s.proposals)

        while True:
            it.check(s.turns < p.max_turns, "turn_cap", f"no right answer in {p.max_turns} turns")
            if s.turns:
                made = await it.gen(messages=s.messages, **ask)
            else:
                made = await it.gen("task", **task, **ask)
            it.check(not made.truncated, "truncated")
            action = action_of(made.text)
            it.check(bool(action.text), "empty_reply")
            if action.code is not None:
                cells = [*s.cells, action.code] if p.persistent else [action.code]
                result = await it.exec(KERNEL, {"cells": cells}, wall_s=p.wall_s)
                seen = observation(result, p.output_chars)
                s.cells += [] if result.limit else [action.code]
                s.errors += not result.ok
                s.step(action, seen, error=not result.ok, feedback=f"{seen}\n{left()}")
            elif action.answer is not None:
                s.proposals += 1
                said = answers.extract(action.answer, kind) or action.answer
                if answers.matches(said, gold, kind):
                    s.answer = said
                    s.step(action, "The answer is right.", error=False)
                    break
                s.wrong += 1
                wrong = f"Your answer is wrong.\n{left()}"
                s.step(action, "Your answer is wrong.", error=True, feedback=wrong)
                it.check(s.proposals < p.max_proposals, "wrong_answer", f"{said} (gold {gold})")
            else:
                s.invalid += 1
                s.step(action, INVALID, error=True, feedback=f"{INVALID}\n{left()}")
        it.check(s.self_corrected or not p.only_self_corrected, "not_self_corrected")
        verdict = {"success": True, "score": 1.0, "reasons": [f"matches the gold {gold}"]}
        extra = {
            "gold": gold,
            "answer": s.answer,
            "steps": s.steps,
            "env": {"name": "python", "verdict": verdict | {"details": {}}, "task": question},
            "tags": ["self_corrected"] if s.self_corrected else [],
            "metadata": {
                "turns": s.turns,
                "self_corrected": s.self_corrected,
                "errors": s.errors,
                "wrong_answers": s.wrong,
                "invalid_actions": s.invalid,
                "persistent": p.persistent,
            },
        }
        return fmt.tool_trajectory(s.messages, [], step="trajectory", extra=extra)
