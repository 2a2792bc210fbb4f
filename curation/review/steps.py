"""The steps of an agent trajectory, the env checker's verdict, and the first wrong step.

A *step* is one move of the agent: what it thought, the action(s) it took and what it saw.
The steps come from `extra["steps"]` when the recipe stored them (one entry per step:
`{"thought", "action": {"name", "arguments"}, "observation", "error"}`; an imported
step-labelled row stores `actions` and `observations` lists instead), else from the
messages: each assistant turn is a step, its content the thought, its tool calls the
actions and the tool results that answer them the observations (a final answer is a step
without actions). Steps are counted from 1: the review page, the API (`first_wrong_step`),
the history and the step-labelled export all use that number.

Everything here is model output, untrusted in shape: an entry of the wrong shape is read
as far as it makes sense (text fields that are not text become ""), never evaluated.
"""

from __future__ import annotations

import json
from typing import Any

from curation.projects.services import ServiceError

Msgs = list[dict[str, Any]]
Step = dict[str, Any]  # {"thought", "actions": [{"name", "arguments"}], "observations", "error"}
MAX_TEXT = 20_000  # characters of one thought or observation shown on the page


class InvalidStep(ServiceError):
    """A first wrong step this sample cannot take (the API answers 400)."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _arguments(value: Any) -> Any:
    """Call arguments as an object when their JSON text parses, else as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value if value is not None else {}


def _action(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        return None
    return {"name": raw["name"], "arguments": _arguments(raw.get("arguments"))}


def _stored(raw: Any) -> Step | None:
    """One entry of extra["steps"] (the recipes' shape or the export's), normalised."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("actions"), list):
        actions = [a for a in (_action(x) for x in raw["actions"]) if a is not None]
    else:
        one = _action(raw.get("action"))
        actions = [one] if one else []
    if isinstance(raw.get("observations"), list):
        observations = [_text(o) for o in raw["observations"]]
    else:
        observation = raw.get("observation")
        observations = [] if observation is None else [_text(observation)]
    return {
        "thought": _text(raw.get("thought")),
        "actions": actions,
        "observations": observations,
        "error": raw.get("error") is True,
    }


def _from_messages(messages: Msgs) -> list[Step]:
    results = {
        m.get("tool_call_id"): _text(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "tool" and m.get("tool_call_id")
    }
    out: list[Step] = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") != "assistant":
            continue
        raw = m.get("tool_calls")
        calls: list[Any] = raw if isinstance(raw, list) else []
        actions, observations = [], []
        for c in calls:
            fn = c.get("function") if isinstance(c, dict) else None
            action = _action(fn)
            if action is None:
                continue
            actions.append(action)
            if c.get("id") in results:
                observations.append(results[c.get("id")])
        out.append(
            {
                "thought": _text(m.get("content")),
                "actions": actions,
                "observations": observations,
                "error": False,
            }
        )
    return out


def stored_steps(extra: Any) -> list[Step] | None:
    """The steps a recipe (or an import) stored, or None when there are none of any use."""
    raw = extra.get("steps") if isinstance(extra, dict) else None
    if not isinstance(raw, list) or not raw:
        return None
    steps = [s for s in (_stored(x) for x in raw) if s is not None]
    return steps or None


def steps_of(messages: Msgs, extra: Any) -> list[Step]:
    """The trajectory's steps, numbered by position (1 = the first)."""
    stored = stored_steps(extra)
    return stored if stored is not None else _from_messages(messages)


def is_trajectory(kind: str, extra: Any) -> bool:
    return kind == "tool_trajectory" or stored_steps(extra) is not None


def prompt_of(messages: Msgs) -> Msgs:
    """The messages before the agent's first move (system, user): what every step follows."""
    for i, m in enumerate(messages):
        if isinstance(m, dict) and m.get("role") == "assistant":
            return messages[:i]
    return list(messages)


def verdict_of(extra: Any) -> dict[str, Any] | None:
    """`extra["env"]["verdict"]` as the page shows it: success, score, reasons, env name."""
    env = extra.get("env") if isinstance(extra, dict) else None
    verdict = env.get("verdict") if isinstance(env, dict) else None
    if not isinstance(env, dict) or not isinstance(verdict, dict):
        return None
    if not isinstance(verdict.get("success"), bool):
        return None
    score = verdict.get("score")
    reasons = verdict.get("reasons")
    return {
        "env": _text(env.get("name"))[:200],
        "success": verdict["success"],
        "score": float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else None,
        "reasons": [r[:2000] for r in reasons if isinstance(r, str)][:50]
        if isinstance(reasons, list)
        else [],
    }


def checked_first_wrong_step(kind: str, extra: Any, messages: Msgs, value: Any) -> int | None:
    """The first wrong step to store: None for none, else a step of this trajectory."""
    if value is None:
        return None
    if not is_trajectory(kind, extra):
        raise InvalidStep(
            f"Only agent trajectories have steps to mark; this sample is {kind} "
            "without extra.steps."
        )
    n = len(steps_of(messages, extra))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= n:
        raise InvalidStep(
            f"first_wrong_step must be a step from 1 to {n} of this trajectory; got {value!r}."
        )
    return value


def page_steps(messages: Msgs, extra: Any) -> list[dict[str, Any]]:
    """The review page's rows: per step its number, a one-line summary and the parts, with
    arguments pretty-printed (the template escapes every string)."""
    rows = []
    for n, s in enumerate(steps_of(messages, extra), 1):
        actions = [
            {
                "name": a["name"],
                "arguments": a["arguments"]
                if isinstance(a["arguments"], str)
                else json.dumps(a["arguments"], indent=2, ensure_ascii=False),
            }
            for a in s["actions"]
        ]
        names = ", ".join(a["name"] for a in actions)
        first = " ".join(s["thought"].split())[:90]
        rows.append(
            {
                "number": n,
                "thought": s["thought"][:MAX_TEXT],
                "actions": actions,
                "observations": [o[:MAX_TEXT] for o in s["observations"]],
                "error": s["error"],
                "summary": names or first or "(no action)",
            }
        )
    return rows


def message_steps(messages: Msgs, extra: Any) -> list[int | None]:
    """Per message, the step it belongs to when the steps are the messages' own (an
    assistant turn and the tool results after it); all None when extra["steps"] holds them."""
    if stored_steps(extra) is not None:
        return [None] * len(messages)
    out: list[int | None] = []
    n = 0
    for m in messages:
        role = m.get("role") if isinstance(m, dict) else None
        if role == "assistant":
            n += 1
        out.append(n if n and role in ("assistant", "tool") else None)
    return out
