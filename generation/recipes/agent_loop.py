"""An agent acting in an env (the ENV step) in text ReAct, for the agent recipes.

    episode = await open_episode(it, seed)            # an env_task seed's env and task
    async def ask(scratchpad: str) -> Gen:             # the recipe's own prompt
        return await it.gen("act", task=..., tools=listing(episode.tools()),
                            scratchpad=scratchpad, stop=STOP)
    attempt = await act(episode, ask, max_steps=8, observation_chars=1500)
    attempt.success, attempt.verdict, attempt.messages(), attempt.steps()

The agent writes Thought / Action / Action Input, or a Final Answer (parsed by
toolalpaca_react.parse_move); each action is one journaled env step, and the agent reads its
steps back as a scratchpad with their Observations. Text ReAct works on any endpoint, small
models included, and keeps the thoughts. The attempt ends at a Final Answer (or the env's
`finish` action), at a reply that is neither (`malformed`), or at `max_steps` actions
(`step_cap`); the env's checker judges it in every case, and `success` also needs a finish.

`messages()` is the trajectory as OpenAI tool-calling messages: the task (the env's first
observation) as the user turn, each action as an assistant turn (the thought as content,
one tool call) answered by a `tool` turn (the observation), and the final answer as the last
assistant turn. `steps()` and `env_extra()` are the shared review keys ("steps", "env").
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from generation.envs import ShellEnv, SQLiteEnv, Verdict, WorldEnv
from generation.envs.base import Env
from generation.envs.episode import Episode
from generation.recipes import kit
from generation.recipes.base import SeedRow
from generation.recipes.kit.results import Gen
from generation.recipes.toolalpaca_react import Done, Move, parse_move, scratchpad

ENVS: dict[str, type[Env]] = {"sqlite": SQLiteEnv, "shell": ShellEnv, "world": WorldEnv}
STOP = ["\nObservation:", "Observation:"]
Ask = Callable[[str], Awaitable[Gen]]


def env_tasks(seeds: list[SeedRow]) -> list[SeedRow]:
    """A run's env_task seeds in a stable order (for `setup`)."""
    return sorted((s for s in seeds if s.kind == "env_task"), key=lambda s: s.id)


def next_task(it: kit.Item[Any], tasks: list[SeedRow], recipe: str) -> SeedRow:
    """The item's task, round-robin over `tasks` by the item's number (Source.numbered)."""
    if not tasks:
        raise kit.Fatal(f"{recipe} needs env_task seeds (an env and its task each).")
    seed = tasks[int(it.payload) % len(tasks)]
    it.use_seeds(seed)
    return seed


def prompt_values(task: str, tools: list[dict[str, Any]], scratchpad: str) -> dict[str, Any]:
    """The ReAct prompt's {{task}}, {{actions}} and {{scratchpad}}."""
    return {"task": task, "actions": listing(tools), "scratchpad": scratchpad or "(none yet)"}


async def begin(it: kit.Item[Any], seed: SeedRow) -> tuple[Episode, list[dict[str, Any]], str]:
    """A fresh episode of the seed's task, its actions (no finish) and the task's text."""
    episode = await open_episode(it, seed)
    task = episode.observation.text if episode.observation else ""
    return episode, actions(episode), task


async def open_episode(it: kit.Item[Any], seed: SeedRow) -> Episode:
    """A fresh episode of the seed's env on its task; a task the env refuses drops the item."""
    env = ENVS.get(str(seed.payload.get("env")))
    if env is None:
        raise kit.Drop("unknown_env", str(seed.payload.get("env"))[:100])
    try:
        return await it.env(env(), dict(seed.payload["task"]))
    except ValueError as exc:
        raise kit.Drop("bad_task", str(exc)[:300]) from None


def actions(episode: Episode) -> list[dict[str, Any]]:
    """The env's tools without `finish`: a trajectory ends with a Final Answer turn."""
    return [t for t in episode.tools() if t["function"]["name"] != "finish"]


def listing(tools: list[dict[str, Any]]) -> str:
    """Actions for a ReAct prompt: `name(arg, …): description`, one a line."""
    lines = []
    for tool in tools:
        fn = tool["function"]
        args = ", ".join(fn.get("parameters", {}).get("properties", {}))
        lines.append(f"- {fn['name']}({args}): {fn.get('description', '')}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Attempt:
    task: str  # the env's first observation: the question and what there is
    done: tuple[Done, ...]  # the moves taken, each with its observation
    errors: tuple[bool, ...]  # per move: the env answered with an error
    ended: str  # "finished", "malformed" or "step_cap"
    problem: str  # why a malformed reply was not a move
    verdict: Verdict

    @property
    def success(self) -> bool:
        return self.ended == "finished" and self.verdict.success

    @property
    def answer(self) -> str:
        return self.done[-1].move.final if self.ended == "finished" else ""

    def feedback(self) -> str:
        """What went wrong, in words, for a reflector: the checker's reasons and the end."""
        ends = {"malformed": f"the last reply was not an action ({self.problem})",
                "step_cap": "the step limit was reached before a final answer"}  # fmt: skip
        parts = [*self.verdict.reasons, *([ends[self.ended]] if self.ended in ends else [])]
        return "; ".join(parts) or "the task was not solved"

    def transcript(self, observation_chars: int) -> str:
        """The attempt as the agent wrote it, final answer included."""
        pad = scratchpad([d for d in self.done if not d.move.final], observation_chars)
        last = self.done[-1].move if self.ended == "finished" else None
        tail = f"Thought: {last.thought}\nFinal Answer: {last.final}" if last else ""
        return "\n".join(p for p in (pad, tail) if p)

    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"role": "user", "content": self.task}]
        for i, step in enumerate(self.done):
            move = step.move
            if move.final:
                head = f"{move.thought}\nFinal Answer: " if move.thought else ""
                out.append({"role": "assistant", "content": head + move.final})
                continue
            call = {"id": f"call_{i}", "type": "function", "function": {
                "name": move.action,
                "arguments": json.dumps(move.arguments or {}, ensure_ascii=False)}}  # fmt: skip
            out.append({"role": "assistant", "content": move.thought or None, "tool_calls": [call]})
            out.append({"role": "tool", "tool_call_id": call["id"], "content": step.observation})
        return out

    def steps(self) -> list[dict[str, Any]]:
        return [
            {
                "thought": d.move.thought,
                "action": {
                    "name": d.move.action or "finish",
                    "arguments": {"answer": d.move.final}
                    if d.move.final
                    else (d.move.arguments or {}),
                },
                "observation": d.observation,
                "error": error,
            }
            for d, error in zip(self.done, self.errors, strict=True)
        ]

    def env_extra(self, seed: SeedRow) -> dict[str, Any]:
        return {"name": str(seed.payload.get("env")), "verdict": self.verdict.to_json(),
                "task": seed.payload.get("question") or self.task[:500]}  # fmt: skip


async def act(episode: Episode, ask: Ask, *, max_steps: int, observation_chars: int) -> Attempt:
    """One attempt of the agent in `episode`, until a final answer, a malformed reply or the
    step cap; then the env's checker."""
    task = episode.observation.text if episode.observation else ""
    done: list[Done] = []
    errors: list[bool] = []
    ended, problem = "step_cap", ""
    while len(done) < max_steps:
        move = parse_move((await ask(scratchpad(done, observation_chars))).text)
        if move.problem:
            ended, problem = "malformed", move.problem
            break
        if move.action == "finish":  # the env's own finish action is a final answer too
            answer = str((move.arguments or {}).get("answer", "")).strip()
            if not answer:
                ended, problem = "malformed", "finish without an answer"
                break
            move = Move(move.thought, final=answer)
        if move.final:
            obs = await episode.step("finish", {"answer": move.final})
        else:
            obs = await episode.step(move.action, move.arguments or {})
        done.append(Done(move, obs.text))
        errors.append(obs.error)
        if obs.done:
            ended = "finished"
            break
    verdict = await episode.check()
    return Attempt(task, tuple(done), tuple(errors), ended, problem, verdict)
