"""Structured output: the `response_format` per mode, the schema in the prompt, and the check.

Modes, strongest first: `json_schema` (the server enforces the schema), `json_object` (the
server returns JSON; the schema is in the system prompt) and `prompt` (the schema in the
prompt only). A client steps down a mode when a server refuses one, and never back up.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema

from generation.llm.errors import PermanentLLMError, clip

Mode = Literal["json_schema", "json_object", "prompt"]
MODE_ORDER: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")


def weaker_mode(mode: Mode, exc: PermanentLLMError, confirmed: set[Mode]) -> Mode | None:
    """After a rejected structured request in `mode`: the mode to try next, or None when a
    weaker one would not help (the refusal is about something else)."""
    if mode == "prompt" or exc.status_code not in (400, 422):
        return None
    text = str(exc).lower()
    mentions = "response_format" in text or mode in text or mode.replace("_", "") in text
    if not mentions and "tool" in text:  # the tools were refused, not the format
        return None
    if not mentions and not (exc.status_code == 400 and mode not in confirmed):
        return None
    return MODE_ORDER[MODE_ORDER.index(mode) + 1]


def response_format(mode: Mode, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    return {"type": "json_object"} if mode == "json_object" else None


def with_schema(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages with the schema, as data, added to the system prompt (copied, not mutated)."""
    note = (
        "Reply with a single JSON value and nothing else: no prose, no code fences. "
        "It must conform to this JSON Schema:\n```json\n" + json.dumps(schema) + "\n```"
    )
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        content = out[0].get("content")
        if isinstance(content, list):
            out[0]["content"] = [*content, {"type": "text", "text": note}]
        else:
            out[0]["content"] = f"{content or ''}\n\n{note}".lstrip()
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def validator_for(schema: dict[str, Any]) -> Any:
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # a broken schema is our bug: fail before any call
    return validator_class(schema)


def check(text: str, validator: Any) -> tuple[Any, str | None]:
    """(value, None) when `text` is JSON matching the schema, else (None, what is wrong)."""
    try:
        value = loads_lenient(text)
    except ValueError as exc:
        return None, f"it is not valid JSON ({clip(str(exc))})"
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return value, None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return None, f"it does not match the schema at {where}: {clip(error.message)}"


def repair_messages(request: list[dict[str, Any]], text: str, problem: str) -> list[dict[str, Any]]:
    """The request, the unacceptable reply, and what is wrong with it: for the one repair."""
    return [
        *request,
        {"role": "assistant", "content": text},
        {
            "role": "user",
            "content": "That reply is not acceptable: "
            + problem
            + "\nReply again with the corrected JSON only: no prose, no code fences.",
        },
    ]


def loads_lenient(text: str) -> Any:
    """JSON, tolerating a code fence or prose around one object or array."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        return json.loads(stripped)
    except ValueError:
        for opener, closer in ("{}", "[]"):
            start, end = stripped.find(opener), stripped.rfind(closer)
            if 0 <= start < end:
                try:
                    return json.loads(stripped[start : end + 1])
                except ValueError:
                    continue
        raise
