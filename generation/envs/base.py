"""What every environment is: actions as tool calls, observations as text, a checker.

    env = SQLiteEnv()
    obs = await env.reset(task)                      # the task's start state
    obs = await env.step("execute_sql", {"sql": "SELECT count(*) FROM pets"})
    obs = await env.step("finish", {"answer": "3"})  # every env has `finish`
    verdict = await env.check()                      # success, a score in [0, 1], reasons

An env's actions are published as an OpenAI `tools` list (`env.tools()`), so an agent acts
by tool calls and a trajectory exports as tool-calling SFT. A bad action (an unknown name,
arguments that are not an object, a failing command) is an observation that says so, never
an exception: the agent may recover, and the checker judges the outcome.

`snapshot()` is the env's whole state as JSON and `restore()` puts it back: the kit's ENV
step (`it.env`, generation/envs/episode.py) journals one after every step, so an episode cut
off by a slice boundary or a crash resumes at the step it reached, in the state it had.
Everything an agent sends is untrusted: SQL and shell commands run in the sandbox.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_OBSERVATION = 4000  # characters of an observation an agent is shown


@dataclass(frozen=True)
class Observation:
    text: str
    done: bool = False  # the agent called `finish`
    error: bool = False  # the action failed (unknown, malformed, or the command erred)
    data: Any = None  # structured result (rows, files, hits) for checkers and review

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Observation:
        return cls(**raw)


@dataclass(frozen=True)
class Verdict:
    success: bool
    score: float  # 0..1
    reasons: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Verdict:
        return cls(
            raw["success"], raw["score"], tuple(raw.get("reasons", ())), raw.get("details", {})
        )


def tool(name: str, description: str, /, **properties: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI tool entry; every property is required."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
        },
    }


FINISH = tool(
    "finish",
    "End the episode with your final answer (a short value or sentence).",
    answer={"type": "string", "description": "The final answer."},
)


def clip(text: str, limit: int = MAX_OBSERVATION) -> str:
    return (
        text if len(text) <= limit else f"{text[:limit]}\n… [{len(text) - limit} more characters]"
    )


class Env(ABC):
    """An environment: subclasses give `name`, `actions()`, `start`, `act`, `judge`,
    `save` and `load`; the base keeps the task, the history and the final answer."""

    name: str = ""

    def __init__(self) -> None:
        self.task: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []  # {"name", "arguments", "error"} per step
        self.answer: str | None = None

    # -- what callers use ------------------------------------------------------------------

    def tools(self) -> list[dict[str, Any]]:
        return [*self.actions(), FINISH]

    @property
    def done(self) -> bool:
        return self.answer is not None

    async def reset(self, task: dict[str, Any]) -> Observation:
        if not isinstance(task, dict):
            raise ValueError(f"{self.name}: a task is a JSON object")
        self.task, self.history, self.answer = task, [], None
        return await self.start(task)

    async def step(self, name: str, arguments: Any) -> Observation:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                return self._refuse(name, arguments, "the arguments are not valid JSON")
        if not isinstance(arguments, dict):
            return self._refuse(name, arguments, "the arguments must be a JSON object")
        if self.done:
            return self._refuse(name, arguments, "the episode has ended (finish was called)")
        if name == "finish":
            self.answer = str(arguments.get("answer", "")).strip()
            self.history.append({"name": name, "arguments": arguments, "error": False})
            return Observation(f"Final answer recorded: {clip(self.answer, 500)}", done=True)
        known = {t["function"]["name"] for t in self.actions()}
        if name not in known:
            options = ", ".join(sorted(known | {"finish"}))
            return self._refuse(
                name, arguments, f"unknown action {name!r}; the actions are {options}"
            )
        obs = await self.act(name, arguments)
        self.history.append({"name": name, "arguments": arguments, "error": obs.error})
        return obs

    async def check(self) -> Verdict:
        return await self.judge()

    def snapshot(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "history": self.history,
            "answer": self.answer,
            "env": self.save(),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.task, self.history, self.answer = snap["task"], snap["history"], snap["answer"]
        self.load(snap["env"])

    def _refuse(self, name: str, arguments: Any, why: str) -> Observation:
        self.history.append({"name": name, "arguments": arguments, "error": True})
        return Observation(f"Error: {why}.", error=True)

    # -- what subclasses give ----------------------------------------------------------------

    @abstractmethod
    def actions(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def start(self, task: dict[str, Any]) -> Observation: ...

    @abstractmethod
    async def act(self, name: str, arguments: dict[str, Any]) -> Observation: ...

    @abstractmethod
    async def judge(self) -> Verdict: ...

    @abstractmethod
    def save(self) -> Any: ...

    @abstractmethod
    def load(self, state: Any) -> None: ...
