"""The ENV step: an episode of an env inside a work item, journaled a step at a time.

    episode = await it.env(SQLiteEnv(), task)          # reset: one journaled step
    obs = await episode.step("execute_sql", {"sql": "SELECT 1"})   # one per action
    verdict = await episode.check()                    # the checker, journaled too

Each journal entry keeps the observation and the env's snapshot after it. When an item
resumes (a slice boundary, a crash), the steps it has are read back without running them,
and the env is put back in the last one's state before the first new action runs: an
episode of any length resumes where it stopped, whole and once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from generation.envs.base import Env, Observation, Verdict

V = TypeVar("V")


class Journal(Protocol):
    async def _step(
        self,
        op: str,
        compute: Callable[[], Awaitable[V]],
        encode: Callable[[V], Any],
        decode: Callable[[Any], V],
    ) -> V: ...


class Episode:
    def __init__(self, journal: Journal, env: Env) -> None:
        self.journal, self.env = journal, env
        self.observation: Observation | None = None  # the latest one
        self.steps: list[dict[str, Any]] = []  # {"name", "arguments", "observation"}
        self._pending: dict[str, Any] | None = None  # a replayed snapshot not yet restored

    @property
    def done(self) -> bool:
        self._settle()
        return self.env.done

    @property
    def answer(self) -> str | None:
        self._settle()
        return self.env.answer

    def tools(self) -> list[dict[str, Any]]:
        self._settle()
        return self.env.tools()

    async def reset(self, task: dict[str, Any]) -> Observation:
        obs = await self._journaled(f"env.{self.env.name}.reset", lambda: self.env.reset(task))
        self.observation = obs
        return obs

    async def step(self, name: str, arguments: Any) -> Observation:
        obs = await self._journaled(
            f"env.{self.env.name}.step", lambda: self.env.step(name, arguments)
        )
        self.steps.append({"name": name, "arguments": arguments, "observation": obs.to_json()})
        self.observation = obs
        return obs

    async def check(self) -> Verdict:
        async def compute() -> Verdict:
            self._settle()
            return await self.env.check()

        return await self.journal._step(
            f"env.{self.env.name}.check", compute, Verdict.to_json, Verdict.from_json
        )

    async def _journaled(self, op: str, act: Callable[[], Awaitable[Observation]]) -> Observation:
        async def compute() -> dict[str, Any]:
            self._settle()
            obs = await act()
            return {"obs": obs.to_json(), "snap": self.env.snapshot()}

        def decode(raw: dict[str, Any]) -> dict[str, Any]:
            self._pending = raw["snap"]
            return raw

        value = await self.journal._step(op, compute, lambda v: v, decode)
        return Observation.from_json(value["obs"])

    def _settle(self) -> None:
        if self._pending is not None:
            self.env.restore(self._pending)
            self._pending = None
