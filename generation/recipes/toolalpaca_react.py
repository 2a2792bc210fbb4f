"""ToolAlpaca's assistant agent speaks ReAct: Thought / Action / Action Input, or a Final
Answer. This reads one step of it, defensively, and writes the scratchpad it sees next."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_ACTION = re.compile(r"^[\s*#]*Action[\s*]*:[\s*]*(.*?)\s*$", re.M | re.I)
_INPUT = re.compile(r"^[\s*#]*Action[\s_]*Input[\s*]*:", re.M | re.I)
_FINAL = re.compile(r"^[\s*#]*Final[\s_]*Answer[\s*]*:", re.M | re.I)
_THOUGHT = re.compile(r"^[\s*#]*Thought[\s*]*:\s*", re.I)
_OBSERVATION = re.compile(r"^[\s*#]*Observation[\s*]*:", re.M | re.I)
_EMPTY_INPUT = {"", "none", "null", "n/a", "{}"}


@dataclass(frozen=True)
class Move:
    """One assistant step: a call (action + arguments) or a final answer; `problem` when
    the text is neither."""

    thought: str
    action: str = ""
    arguments: dict[str, Any] | None = None
    final: str = ""
    problem: str = ""


def first_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in the text (fences and prose around it ignored)."""
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _name(raw: str) -> str:
    """An action's function name without the decoration models add: `x`, "x", x(), [x]."""
    name = raw.strip().strip("`'\"[]*").strip()
    name = re.sub(r"\(.*\)$", "", name).strip()
    return name.split()[0] if name else ""


def parse_move(text: str) -> Move:
    """The step in `text`: whichever of Action and Final Answer comes first."""
    action, final = _ACTION.search(text), _FINAL.search(text)
    first = min((m for m in (action, final) if m), key=lambda m: m.start(), default=None)
    if first is None:
        return Move(_thought(text), problem="neither an Action nor a Final Answer")
    thought = _thought(text[: first.start()])
    if first is final:
        answer = _OBSERVATION.split(text[first.end() :])[0].strip()
        return Move(thought, final=answer) if answer else Move(thought, problem="empty answer")
    assert action is not None
    name = _name(action.group(1))
    if not name:
        return Move(thought, problem="an Action without a function name")
    given = _INPUT.search(text, action.end())
    if given is None:
        return Move(thought, name, problem="an Action without an Action Input")
    raw = _OBSERVATION.split(_FINAL.split(text[given.end() :])[0])[0].strip()
    if raw.strip("`").strip().lower() in _EMPTY_INPUT:
        return Move(thought, name, {})
    arguments = first_object(raw)
    if arguments is None:
        return Move(thought, name, problem=f"Action Input is not a JSON object: {raw[:200]}")
    return Move(thought, name, arguments)


def _thought(text: str) -> str:
    return _THOUGHT.sub("", text.strip()).strip()


@dataclass(frozen=True)
class Done:
    """A step taken: the move and what the tool answered."""

    move: Move
    observation: str


def scratchpad(done: Sequence[Done], result_chars: int) -> str:
    """The steps so far, as the assistant wrote them, each with its Observation."""
    parts = []
    for step in done:
        args = json.dumps(step.move.arguments or {}, ensure_ascii=False)
        parts.append(
            f"Thought: {step.move.thought}\nAction: {step.move.action}\n"
            f"Action Input: {args}\nObservation: {step.observation[:result_chars]}"
        )
    return "\n".join(parts)


_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$")


def numbered(text: str, most: int) -> list[str]:
    """The user agent's requests: numbered or bulleted lines, distinct, at most `most`."""
    out: list[str] = []
    for line in text.splitlines():
        found = _NUMBERED.match(line)
        request = found.group(1).strip().strip('"').strip() if found else ""
        if len(request) >= 8 and request not in out:
            out.append(request)
    return out[:most]
