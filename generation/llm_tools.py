"""Tool calls in chat completions, for `generation.llm` (which re-exports what is public here).

The envelope (`tool_calls` as a list of objects with a `function`) is the server's doing, so a
broken one is a malformed reply and raises ValueError. The arguments are model output: text
that should be a JSON object and often is not. They are parsed leniently and never raise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments_json: str  # exactly as the model wrote it, so a trajectory replays byte for byte
    arguments: dict[str, Any] | None  # None when arguments_json is not a JSON object
    arguments_error: str = ""  # why arguments is None
    type: str = "function"

    def as_dict(self) -> dict[str, Any]:
        """The call as it goes back into an assistant message's `tool_calls`."""
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments_json},
        }

    def result(self, content: str) -> dict[str, Any]:
        """The `role: tool` message that answers this call."""
        return {"role": "tool", "tool_call_id": self.id, "content": content}


def parse_tool_calls(raw: Any) -> list[ToolCall]:
    """The `tool_calls` of one choice's message; none given is an empty list."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("tool_calls is not a list")
    calls = []
    for index, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            raise ValueError("a tool call has no function object")
        given = function.get("arguments")
        # Some servers send the arguments as an object rather than as JSON text.
        text = given if isinstance(given, str) else "" if given is None else json.dumps(given)
        arguments, error = parse_arguments(text)
        calls.append(
            ToolCall(
                id=str(item.get("id") or f"call_{index}"),
                name=str(function.get("name") or ""),
                arguments_json=text,
                arguments=arguments,
                arguments_error=error,
                type=str(item.get("type") or "function"),
            )
        )
    return calls


def parse_arguments(text: str) -> tuple[dict[str, Any] | None, str]:
    """(the arguments, "") when `text` is a JSON object (blank counts as none), else (None, why)."""
    if not text.strip():
        return {}, ""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested too deep
        return None, f"the arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"the arguments are JSON {type(value).__name__}, not an object"
    return value, ""


def assistant_message(text: str, calls: list[ToolCall]) -> dict[str, Any]:
    """One choice as the assistant message that an agent loop appends to the conversation."""
    if not calls:
        return {"role": "assistant", "content": text}
    return {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [call.as_dict() for call in calls],
    }
