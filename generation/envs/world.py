"""A Python world-state env, ToolSandbox style: tools change a state; milestones and
minefields decide.

Task: `{"world": "phone", "state": {…overrides}, "question": "…", "milestones": [p, …],
"minefields": [p, …]}` where each predicate `p` is data, never code:
- `{"call": "send_message", "args": {"phone_number": "+1 555 0101"}}`: a call of that tool
  whose arguments include these values (text compared trimmed and case-insensitively);
  a milestone needs the call to succeed, a minefield is set off by any attempt;
- `{"state": "settings.cellular", "equals": true}`: the state at that path after a step;
- `{"answer_contains": "Ana"}`: the final answer (milestones only).

Milestones must be met in order, each at or after the step of the one before (ToolSandbox
matches them as a chain over the trajectory's snapshots). The score is the share of
milestones met, and 0 when any minefield went off; success is a score of 1.

Deviations from ToolSandbox: exact predicates instead of its similarity-scored snapshot
matching; a linear chain instead of a milestone DAG; our phone world (generation/envs/
phone.py) instead of its tool suite; the user is the recipe's simulated agent, not built in.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from generation.envs import phone
from generation.envs.base import Env, Observation, Verdict, clip

WORLDS = {"phone": phone}


class WorldEnv(Env):
    name = "world"

    def __init__(self) -> None:
        super().__init__()
        self.state: dict[str, Any] = {}
        self.trace: list[dict[str, Any]] = []  # per step: call, ok, state after

    @property
    def world(self) -> Any:
        return WORLDS[str(self.task.get("world", "phone"))]

    def actions(self) -> list[dict[str, Any]]:
        return [schema for schema, _ in self.world.TOOLS.values()] if self.task else []

    async def start(self, task: dict[str, Any]) -> Observation:
        if str(task.get("world", "phone")) not in WORLDS:
            raise ValueError(
                f"world: unknown world {task.get('world')!r}; worlds: {', '.join(WORLDS)}"
            )
        for key in ("milestones", "minefields"):
            if not isinstance(task.get(key, []), list):
                raise ValueError(f"world: {key!r} must be a list of predicates")
        if not task.get("milestones"):
            raise ValueError("world: a task needs at least one milestone")
        self.state = self.world.initial(task.get("state"))
        self.trace = []
        return Observation(clip(str(task.get("question", ""))))

    async def act(self, name: str, arguments: dict[str, Any]) -> Observation:
        _, fn = self.world.TOOLS[name]
        try:
            result = fn(self.state, **arguments)
            ok, text = True, json.dumps(result, ensure_ascii=False)
        except TypeError as exc:
            ok, text = False, f"Error: bad arguments for {name}: {exc}"
        except self.world.WorldError as exc:
            ok, text = False, f"Error: {exc}"
        self.trace.append({"call": name, "args": arguments, "ok": ok,
                           "state": copy.deepcopy(self.state)})  # fmt: skip
        return Observation(clip(text), error=not ok)

    async def judge(self) -> Verdict:
        mines = [
            m
            for m in self.task.get("minefields", [])
            if any(_call_matches(m, s, attempt=True) for s in self.trace)
        ]
        milestones = self.task["milestones"]
        met, at = 0, 0
        for milestone in milestones:
            found = self._find(milestone, at)
            if found is None:
                break
            met, at = met + 1, found
        score = 0.0 if mines else met / len(milestones)
        reasons = [f"{met} of {len(milestones)} milestones met in order"]
        if mines:
            reasons.append(f"minefield set off: {json.dumps(mines[0])}")
        return Verdict(score == 1.0, score, tuple(reasons), {"met": met, "minefields": len(mines)})

    def _find(self, pred: dict[str, Any], start: int) -> int | None:
        """The first step index ≥ start where `pred` holds (len(trace) for the answer)."""
        if "answer_contains" in pred:
            hit = (
                self.answer is not None
                and str(pred["answer_contains"]).lower() in self.answer.lower()
            )
            return len(self.trace) if hit else None
        for i in range(start, len(self.trace)):
            step = self.trace[i]
            if "call" in pred and _call_matches(pred, step, attempt=False):
                return i
            if "state" in pred and _lookup(step["state"], str(pred["state"])) == pred.get("equals"):
                return i
        return None

    def save(self) -> Any:
        return {"state": self.state, "trace": self.trace}

    def load(self, state: Any) -> None:
        self.state, self.trace = state["state"], state["trace"]


def _norm(value: Any) -> Any:
    return " ".join(value.split()).lower() if isinstance(value, str) else value


def _call_matches(pred: dict[str, Any], step: dict[str, Any], *, attempt: bool) -> bool:
    if "call" not in pred or step["call"] != pred["call"] or not (attempt or step["ok"]):
        return False
    args = pred.get("args") or {}
    return all(_norm(step["args"].get(k)) == _norm(v) for k, v in args.items())


def _lookup(state: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(state, dict):
            state = state.get(part)
        elif isinstance(state, list) and part.isdigit() and int(part) < len(state):
            state = state[int(part)]
        else:
            return None
    return state
