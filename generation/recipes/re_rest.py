"""Re-ReST (METHODS.md #54, Dou et al., EMNLP 2024, arXiv 2406.01495): reflection-
reinforced self-training: failed agent attempts corrected by a reflector that reads the
environment's feedback, kept when the correction passes in the environment.

① GEN×k: the agent makes k attempts at an env_task, each a journaled episode
(agent_loop.py) → ② the env's checker gives each a verdict and reasons → ③ a failed attempt,
with that feedback, goes to the reflector, which reflects and tries the task again from the
start → ④ the correction runs in a fresh episode and is checked the same way (a correction
that still fails is reflected on again, up to reflection_rounds) → ⑤ keep the originals
that pass and the corrections that pass, each correction linked to the attempt it corrects
(`extra.metadata.corrects`, `extra.trajectory_id`) → ⑥ FMT task → good trajectory.

Training the agent on these (and optionally the reflector on its successful corrections)
happens outside Seedbed; this is one round of data.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.agent_loop import (
    STOP,
    Attempt,
    act,
    begin,
    env_tasks,
    next_task,
    prompt_values,
)
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.results import Gen

ENV_TASK = "env_task"
REFLECTOR = kit.Role("reflector", "Reflects on a failed attempt with the env's feedback and "
                     "tries the task again; defaults to policy.", False, "policy")  # fmt: skip
_REFLECTION = re.compile(
    r"^[\s*#]*Reflection[\s*]*:\s*(.*?)\s*(?=^[\s*#]*(?:Thought|Action|Final)\b|\Z)",
    re.M | re.S | re.I,
)


class Params(RecipeParams):
    k: int = Field(2, ge=1, le=8, description="Agent attempts per task (GEN×k), each an episode.")
    reflection_rounds: int = Field(
        1, ge=1, le=3, description="Corrections per failed attempt: one that still fails is "
        "reflected on again, up to this many times.",
    )  # fmt: skip
    keep_originals: bool = Field(True, description="Keep the attempts that pass on their own.")
    max_steps: int = Field(8, ge=1, le=30, description="Actions per trajectory (cap).")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="For the k attempts.")
    reflect_temperature: float = Field(0.2, ge=0.0, le=2.0, description="For the reflector.")
    step_tokens: int = Field(384, ge=64, le=4096, description="Budget of one step.")
    observation_chars: int = Field(
        1500, ge=100, le=20000, description="Characters of an observation shown to a model."
    )


def split_reflection(text: str) -> tuple[str, str]:
    """The reply without its "Reflection: …" paragraph, and that paragraph."""
    found = _REFLECTION.search(text)
    if found is None:
        return text, ""
    return (text[: found.start()] + text[found.end() :]).strip(), found.group(1).strip()


@kit.register
class ReReST(kit.Recipe[Params]):
    meta = kit.Meta(
        "re_rest", "Re-ReST", entry=54, version="1", output="tool_trajectory",
        section="agent_flows", inputs=frozenset({ENV_TASK}), roles=(kit.POLICY, REFLECTOR),
        summary="k agent attempts per env task; failed ones go with the env's feedback to a "
        "reflector, whose correction is re-run in the env; passing originals and passing "
        "corrections (linked to the attempt they correct) are kept.",
        needs=(kit.Need("ENV", "attempts and corrections are checked in an environment",
                        "the local SQLite, shell and phone-world envs; code tasks as shell "
                        "tasks with a check script that runs their tests"),),
        yield_per_item=1.5,
    )  # fmt: skip
    steps = (
        Step("SAMPLE", "task", "The next env task, round-robin over the env_task seeds."),
        Step("GEN", "act", "GEN×k: k ReAct attempts (Thought, Action, Action Input, Final "
             "Answer), each acting in a fresh episode of the task's env."),
        Step("ENV", "feedback", "The env's checker per attempt: success and its reasons "
             "(the gold values, the check script, the milestones)."),
        Step("GEN", "reflect", "The reflector reads a failed attempt and the feedback, "
             "writes a Reflection and tries the task again from the start."),
        Step("ENV", "rerun", "The correction acts in a fresh episode and is checked; one that "
             "still fails is reflected on again, up to reflection_rounds."),
        Step("CHECK", "passes", "Keep originals that pass and corrections that pass, each "
             "correction linked to the attempt it corrects; drop the rest."),
        Step("FMT", "tool_trajectory", "Task → the passing trajectory (thoughts and tool "
             "calls, no reflection); the reflection and the failed attempt in metadata."),
    )  # fmt: skip
    deviations = (
        "The environments are our local ones (generation/envs: SQLite, a sandboxed shell, "
        "the phone world) instead of the paper's HotpotQA, ALFWorld, WebShop, MBPP and GQA; "
        "an MBPP-like code task is a shell task whose check script runs its unit tests.",
        "The reflector is a prompted model (role reflector, defaulting to policy), not one "
        "fine-tuned on the task; training it on its own successful corrections is left to "
        "the trainer (the corrections it made are marked in metadata).",
        "The reflector sees the checker's reasons as well as the failed trial (the paper's "
        "prompt shows the trial; its feedback is the env's success signal); prompt wording "
        "is ours.",
        "One round of data, no self-training loop; k, reflection_rounds and the "
        "temperatures are our defaults (the paper gives k and the rounds per task).",
        "Identical passing originals of one task are kept once; the run cycles through the "
        "tasks, so a later pass samples a task again.",
    )

    async def setup(self, run: Any) -> None:
        self.tasks = env_tasks(run.seeds)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("re_rest")

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed = next_task(it, self.tasks, "Re-ReST")
        pieces: list[fmt.Piece] = []
        seen: set[str] = set()
        still_failing, last_feedback, passed = 0, "", 0
        for i in range(p.k):
            attempt, tools = await self._attempt(it, seed)
            tid = f"{it.key}:a{i}"  # the trajectory's id; a sample's work key ends with it
            if attempt.success:
                passed += 1
                digest = json.dumps(attempt.messages(), sort_keys=True)
                if p.keep_originals and digest not in seen:
                    seen.add(digest)
                    pieces.append(self._piece(seed, attempt, tools, tid, {"origin": "attempt"}))
                continue
            failed, failed_id = attempt, tid
            for rnd in range(1, p.reflection_rounds + 1):
                fixed, tools, reflection = await self._correct(it, seed, failed)
                cid = f"{tid}:r{rnd}"
                if fixed.success:
                    link = {"origin": "correction", "corrects": failed_id, "round": rnd,
                            "reflection": reflection, "feedback": failed.feedback(),
                            "failed_steps": failed.steps(),
                            "failed_verdict": failed.verdict.to_json()}  # fmt: skip
                    pieces.append(self._piece(seed, fixed, tools, cid, link, REFLECTOR.name))
                    break
                still_failing += 1
                last_feedback = fixed.feedback()
                failed, failed_id = fixed, cid
        if not pieces:
            if still_failing:
                raise kit.Drop("correction_failed", last_feedback)
            # Every attempt passed and keep_originals is off: a failed one is always kept
            # (corrected) or counted above.
            raise kit.Drop("nothing_to_correct", f"{passed} of {p.k} attempts passed")
        if still_failing:
            it.count("correction_failed", still_failing)
        return pieces

    async def _attempt(self, it: kit.Item[Params], seed: SeedRow) -> tuple[Attempt, Any]:
        p = it.params
        episode, tools, task = await begin(it, seed)

        async def ask(scratchpad: str) -> Gen:
            return await it.gen(
                "act", **prompt_values(task, tools, scratchpad), temperature=p.temperature,
                max_tokens=p.step_tokens, stop=STOP,
            )  # fmt: skip

        attempt = await act(
            episode, ask, max_steps=p.max_steps, observation_chars=p.observation_chars
        )
        return attempt, tools

    async def _correct(
        self, it: kit.Item[Params], seed: SeedRow, failed: Attempt
    ) -> tuple[Attempt, Any, str]:
        p = it.params
        episode, tools, _ = await begin(it, seed)
        reflections: list[str] = []

        async def ask(scratchpad: str) -> Gen:
            made = await it.gen(
                "reflect", role=REFLECTOR.name, **prompt_values(failed.task, tools, scratchpad),
                previous=failed.transcript(p.observation_chars) or "(no steps)",
                feedback=failed.feedback(), temperature=p.reflect_temperature,
                max_tokens=p.step_tokens, stop=STOP,
            )  # fmt: skip
            text, reflection = split_reflection(made.text)
            if reflection:
                reflections.append(reflection)
            return dataclasses.replace(made, texts=[text, *made.texts[1:]])

        fixed = await act(
            episode, ask, max_steps=p.max_steps, observation_chars=p.observation_chars
        )
        return fixed, tools, "\n".join(reflections)

    @staticmethod
    def _piece(
        seed: SeedRow, attempt: Attempt, tools: Any, tid: str, metadata: dict[str, Any],
        role: str = "",
    ) -> fmt.Piece:  # fmt: skip
        env = attempt.env_extra(seed)
        tags = [f"env:{env['name']}", *(["self_corrected"] if "corrects" in metadata else [])]
        extra = {"source": "recipe:re_rest", "env": env, "steps": attempt.steps(),
                 "trajectory_id": tid, "metadata": metadata, "tags": tags}  # fmt: skip
        if metadata.get("reflection"):
            extra["rationale"] = metadata["reflection"]
        return fmt.tool_trajectory(
            attempt.messages(), tools, step="trajectory", extra=extra, role=role,
            suffix=tid.split(":", 2)[-1].replace(":", ""),
        )  # fmt: skip
