"""PC Agent-E (METHODS.md #57), the text-only part: human GUI trajectories become agent steps.

① refine the human trajectory (a conversation seed: accessibility-tree observations as user
turns, actions as assistant turns) → ② Thought Completion: GEN the reasoning behind each
human action, given the task, the history and the observation (the action is kept) → ③
Trajectory Boost: GEN×n alternative (thought, action) decisions at each step → ④ CHECK each
action against the grammar and its own step's tree (ids exist, points on the screen) → ⑤ FMT
every step as an SFT sample (task + history + observation → thought + action), the
alternatives too, tagged `alternative`; none of them is executed, as in the paper.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from generation.recipes import kit
from generation.recipes.base import RecipeParams, SeedRow, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.results import Gen
from generation.recipes.pc_agent_e_actions import GRAMMAR, ActionError, fit, parse_action
from generation.recipes.pc_agent_e_trajectory import (
    AGENT_SYSTEM,
    HumanStep,
    Trajectory,
    clean_thought,
    context,
    history,
    read_trajectory,
    refine,
    response,
    split_reply,
    step_view,
)

KIND = "conversation"
# A sample's tag and step: the human's decision with its completed thought, or a boost's.
ORIGIN = {True: ("human", "thought_completion"), False: ("alternative", "trajectory_boost")}


class Params(RecipeParams):
    alternatives: int = Field(
        9, ge=0, le=16, description="Trajectory Boost: alternative decisions per step (n)."
    )
    thought_temperature: float = Field(0.7, ge=0.0, le=2.0)
    boost_temperature: float = Field(1.0, ge=0.0, le=2.0)
    max_tokens: int = Field(1000, ge=32, le=4096, description="Per thought or alternative.")
    max_history: int = Field(30, ge=1, le=100, description="Earlier steps shown as history.")
    min_thought_chars: int = Field(15, ge=1, le=500, description="Shorter thoughts drop.")
    screen_width: int = Field(1280, ge=64, le=8192, description="When a seed gives no screen.")
    screen_height: int = Field(720, ge=64, le=8192, description="When a seed gives no screen.")
    merge_typing: bool = Field(True, description="Refinement: merge consecutive type() steps.")
    finish_must_match: bool = Field(
        True, description="At a human finish(), alternatives that do not finish drop."
    )


@kit.register
class PCAgentE(kit.Recipe[Params]):
    meta = kit.Meta(
        "pc_agent_e", "PC Agent-E", entry=57, version="1", output="sft",
        section="environments", inputs=frozenset({KIND}), roles=(kit.POLICY,),
        summary="Human GUI trajectories (accessibility trees and actions as text) get the "
        "thought behind each action and n alternative decisions per step, each checked "
        "against its step's tree; every step is an agent SFT sample.",
        needs=(kit.Need("N", "9 alternative decisions per step",
                        "single requests in parallel (automatic)",
                        when=lambda p: p.alternatives > 1),),
        yield_per_item=20.0,
    )  # fmt: skip
    steps = (
        Step("CHECK", "refine", "Read the human trajectory: drop unreadable actions, leading "
             "waits, lone modifier presses, clicks and waits that changed nothing, repeats; "
             "merge runs of typing; a last bare observation becomes finish()."),
        Step("GEN", "thought", "Thought Completion: the reasoning before each human action, "
             "from the task, the history (thoughts and actions), the observation and the "
             "action; the action is kept. One step after another."),
        Step("GEN", "boost", "Trajectory Boost: n alternative (thought, action) decisions "
             "per step, from the same task, history and observation."),
        Step("CHECK", "action_schema", "Each alternative parses into the action grammar, its "
             "element ids exist in that step's tree, its points lie on the screen; at a human "
             "finish(), it finishes too."),
        Step("FMT", "sft", "One sample per step: task + history + tree → thought + action; "
             "alternatives are samples too (tag `alternative`), never executed."),
    )  # fmt: skip
    deviations = (
        "Text only: the paper's screenshots and VLM (Claude 3.7 Sonnet) are out of scope. "
        "Observations are accessibility trees as text, and the model that completes "
        "thoughts and proposes alternatives is a text LLM reading the tree instead of a "
        "screenshot; click marks on the image become the element the action acts on.",
        "The action grammar is ours, after the paper's action space (click, double and right "
        "click, drag, scroll, press, hotkey, type, wait, finish, fail), with clicks on an "
        "element [id] besides (x, y) and scroll(dx, dy); the paper's spellings are read too.",
        "Human trajectories come as conversation seeds, not PC Tracker recordings; "
        "refinement is the paper's clean-up in text (a no-op is an action after which the "
        "tree is unchanged, where the paper compares screenshots), plus merged typing.",
        "Thought Completion is tried once per step: an unusable thought drops that step's "
        "sample (the paper retries until it gets one); a thought the seed already carries "
        "is kept, as in the reference code.",
        "Alternatives are checked against the tree (ids exist, points on the screen, known "
        "keys); the paper checks the action's syntax and the screen bounds only.",
        "Prompt wording is ours; n = 9 alternatives, history of 30 steps, 1000 tokens and "
        "the 15-character thought minimum follow the reference code. Temperatures are ours "
        "(the paper uses the API's default).",
    )

    def source(self, run: Any) -> Any:
        return kit.Source.per_seed("pce", [s for s in run.seeds if s.kind == KIND])

    async def make(self, it: kit.Item[Params]) -> kit.Out:
        p = it.params
        seed: SeedRow = it.payload
        it.use_seeds(seed)
        raw = read_trajectory(seed.payload, p.screen_width, p.screen_height)
        trajectory = refine(raw, merge_typing=p.merge_typing)
        for reason, n in trajectory.counts.items():
            it.count(reason, n)
        it.check(bool(trajectory.task), "no_task")
        it.check(bool(trajectory.steps), "no_gui_steps")
        thoughts, versions = await self._thoughts(it, trajectory)
        boosts = await asyncio.gather(
            *(self._boost(it, trajectory, thoughts, i) for i in range(len(trajectory.steps)))
        )
        pieces: list[kit.Piece] = []
        for i, (step, boost) in enumerate(zip(trajectory.steps, boosts, strict=True)):
            if thoughts[i]:
                pieces.append(self._piece(it, trajectory, thoughts, i, step, thoughts[i], None))
                pieces[-1].prompt_version = versions[i] or pieces[-1].prompt_version
            if boost is not None:
                pieces.extend(self._alternatives(it, trajectory, thoughts, i, boost))
        it.check(bool(pieces), "no_usable_step")
        return pieces

    async def _thoughts(self, it: kit.Item[Params], t: Trajectory) -> tuple[list[str], list[str]]:
        """Step ②, in order: each thought sees the thoughts completed before it."""
        p = it.params
        thoughts: list[str] = []
        versions: list[str] = []
        for i, step in enumerate(t.steps):
            kept = clean_thought(step.thought, p.min_thought_chars) if step.thought else None
            if kept is not None:
                thoughts.append(kept)
                versions.append("")  # no template wrote it: the item's default
                continue
            made = await it.gen(
                "thought", task=t.task, history=history(t.steps, thoughts, i, p.max_history),
                observation=step.screen.text, action=step.action.text(),
                element=step.element.label() if step.element else "nothing in particular",
                width=str(step.screen.width), height=str(step.screen.height),
                temperature=p.thought_temperature, max_tokens=p.max_tokens,
            )  # fmt: skip
            thought = None if made.truncated else clean_thought(made.text, p.min_thought_chars)
            if thought is None:
                it.count("no_thought")
            thoughts.append(thought or "")
            versions.append(made.version)
        return thoughts, versions

    async def _boost(
        self, it: kit.Item[Params], t: Trajectory, thoughts: list[str], i: int
    ) -> Gen | None:
        """Step ③: n alternative decisions at step i, from the human's history."""
        p = it.params
        if not p.alternatives:
            return None
        screen = t.steps[i].screen
        return await it.gen(
            "boost", n=p.alternatives, actions=GRAMMAR, task=t.task,
            history=history(t.steps, thoughts, i, p.max_history), observation=screen.text,
            width=str(screen.width), height=str(screen.height),
            temperature=p.boost_temperature, max_tokens=p.max_tokens,
        )  # fmt: skip

    def _alternatives(
        self, it: kit.Item[Params], t: Trajectory, thoughts: list[str], i: int, made: Gen
    ) -> list[kit.Piece]:
        """Step ④: each alternative must parse and fit step i's tree; the rest are counted."""
        p = it.params
        step = t.steps[i]
        pieces = []
        for j, text in enumerate(made.texts):
            thought, said = split_reply(text)
            kept = clean_thought(thought, p.min_thought_chars)
            try:
                if made.finish_reasons[j : j + 1] == ["length"]:
                    raise ActionError("truncated", "stopped at max_tokens")
                if said is None:
                    raise ActionError("no_action", 'no "Action:" line')
                action = parse_action(said)
                element = fit(action, step.screen)
                if kept is None:
                    raise ActionError("no_thought", "the thought is missing or too short")
                human_done = step.action.name == "finish"
                if p.finish_must_match and human_done and action.name != "finish":
                    raise ActionError("not_finish", "the human finished here")
            except ActionError as error:
                it.count(f"alternative_{error.reason}")
                continue
            alt = HumanStep(step.screen, action, element)
            piece = self._piece(it, t, thoughts, i, alt, kept, j + 1)
            piece.prompt_version = made.version
            pieces.append(piece)
        return pieces

    def _piece(
        self,
        it: kit.Item[Params],
        t: Trajectory,
        thoughts: list[str],
        i: int,
        step: HumanStep,
        thought: str,
        alternative: int | None,
    ) -> kit.Piece:
        """Step ⑤: the sample of step i, the human's decision or alternative j."""
        p = it.params
        human = t.steps[i]
        source, made_by = ORIGIN[alternative is None]
        past = [step_view(s.screen, thoughts[k], s.action) for k, s in enumerate(t.steps[:i])]
        extra = {
            "rationale": thought,
            "trajectory_id": it.key,
            "tags": [source],
            "steps": [*past, step_view(step.screen, thought, step.action)],
            "metadata": {
                "task": t.task,
                "step": i + 1,
                "of": len(t.steps),
                "source": source,
                "alternative": alternative,
                "observation_step": i + 1,
                "action": step.action.to_json(),
                "element": step.element.label() if step.element else None,
                "human_action": human.action.text(),
                "same_action_as_human": step.action == human.action,
            },
        }
        prompt = context(t.task, history(t.steps, thoughts, i, p.max_history), step.screen)
        suffix = f"s{i + 1}" if alternative is None else f"s{i + 1}a{alternative}"
        return fmt.sft(
            prompt, response(thought, step.action), system=AGENT_SYSTEM, suffix=suffix,
            step=made_by, extra=extra,
        )  # fmt: skip
