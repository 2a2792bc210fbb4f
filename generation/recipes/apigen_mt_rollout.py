"""APIGen-MT phase 2: a simulated human (who sees the blueprint's instruction) talks with an
agent that acts in the env through tool calls. One rollout is one fresh env episode.

The loop is ours rather than generation/sim's, because the agent's turns carry tool calls:
per user turn the agent may call tools (each call one journaled env step, its observation a
`tool` message) until it answers in text; then the human speaks again, or ends the talk with
###STOP### (τ-bench's token).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from generation.envs import WorldEnv
from generation.envs.episode import Episode
from generation.tools import bfcl

if TYPE_CHECKING:
    from generation.recipes import kit

STOP = "###STOP###"


@dataclass
class Rollout:
    messages: list[dict[str, Any]]  # the agent's conversation, system prompt first
    steps: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # the agent's text turns
    stopped: str = ""
    user_turns: int = 0


def final_state(episode: Episode) -> Any:
    """The world state after the episode's last step (restored first when replayed)."""
    episode.tools()  # settles a replayed snapshot into the env
    return cast("WorldEnv", episode.env).state


def native_calls(tool_calls: list[list[dict[str, Any]]]) -> list[bfcl.Call]:
    """The first choice's native tool calls ([] when there are none or they are broken)."""
    for choice in tool_calls[:1]:
        try:
            return bfcl.calls_from_openai(list(choice))
        except ValueError:
            return []
    return []


def transcript(messages: list[dict[str, Any]]) -> str:
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages
             if m["role"] in ("user", "assistant") and m.get("content")]  # fmt: skip
    return "\n".join(lines) or "(nothing yet: write your first message)"


async def rollout(
    it: kit.Item[Any],
    task: dict[str, Any],
    system: str,
    persona: str,
    *,
    trial: int,
) -> tuple[Rollout, Episode]:
    p = it.params
    episode = await it.env(WorldEnv(), task)
    tools = [t for t in episode.tools() if t["function"]["name"] != "finish"]
    out = Rollout([{"role": "system", "content": system}])
    for _ in range(p.max_user_turns):
        said = await it.gen(
            "user_turn", role="user_sim", instruction=task["question"], persona=persona,
            transcript=transcript(out.messages), temperature=p.temperature, max_tokens=200,
        )  # fmt: skip
        text = said.text.strip()
        done = STOP in text
        text = text.replace(STOP, "").strip()
        if done and out.replies:
            out.stopped = "user_stop"
            break
        if not text:
            out.stopped = "user_empty"
            break
        out.messages.append({"role": "user", "content": text})
        out.user_turns += 1
        reply = await _agent_turn(it, episode, tools, out, trial)
        if reply is None:
            break
    else:
        out.stopped = "max_user_turns"
    return out, episode


async def _agent_turn(
    it: kit.Item[Any], episode: Episode, tools: list[dict[str, Any]], out: Rollout, trial: int
) -> str | None:
    """The agent's moves until it answers in text; None when it stops without one."""
    p = it.params
    for _ in range(p.max_agent_steps):
        made = await it.gen(messages=out.messages, tools=tools, tool_choice="auto",
                            temperature=p.temperature, max_tokens=p.max_tokens)  # fmt: skip
        calls = native_calls(made.tool_calls)
        if not calls:
            text = made.text.strip()
            if not text:
                out.stopped = "agent_empty"
                return None
            out.messages.append({"role": "assistant", "content": text})
            out.replies.append(text)
            return text
        wire = []
        for call in calls:
            call_id = f"call_{trial}_{len(out.steps)}"
            action = {"name": call.name, "arguments": call.arguments}
            out.steps.append({"thought": made.text.strip(), "id": call_id, "action": action})
            wire.append({"id": call_id, "type": "function", "function": {
                "name": call.name, "arguments": json.dumps(call.arguments or {})}})  # fmt: skip
        out.messages.append(
            {"role": "assistant", "content": made.text.strip() or None, "tool_calls": wire}
        )
        for call, sent in zip(calls, wire, strict=True):
            args: Any = call.arguments if call.arguments is not None else "(not a JSON object)"
            obs = await episode.step(call.name, args)
            step = next(s for s in out.steps if s["id"] == sent["id"])
            step.update(observation=obs.text, error=obs.error)
            out.messages.append({"role": "tool", "tool_call_id": sent["id"], "content": obs.text})
    out.stopped = "agent_step_cap"
    return None
