"""Conversations: OpenAI messages (with optional tools) or ShareGPT turns."""

from __future__ import annotations

from typing import Any

from curation.seeds.kinds.common import ParsedSeed, Record, json_type, short
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="conversation",
    label="Conversation",
    description="A multi-turn chat; ShareGPT's from/value turns become OpenAI role/content.",
    fields=(
        FieldSpec(
            "messages",
            "List of {role, content}; roles system, user, assistant, tool.",
            required=True,
            aliases=("conversations",),
        ),
        FieldSpec("tools", "OpenAI tool definitions offered in the chat."),
    ),
    payload=("messages",),
    example={
        "messages": [
            {"role": "user", "content": "What is 2 + 3?"},
            {"role": "assistant", "content": "5"},
        ]
    },
    detected_by="a 'messages' or 'conversations' key",
    payload_optional=("tools",),
)

_SHAREGPT = ("from", "value")
_OPENAI = ("role", "content")
_SHAREGPT_ROLES = {
    "human": "user", "gpt": "assistant", "system": "system",
    "user": "user", "assistant": "assistant", "tool": "tool",
}  # fmt: skip
_OPENAI_ROLES = {role: role for role in ("system", "user", "assistant", "tool")}


def parse(rec: Record) -> ParsedSeed:
    key = rec.where("messages")
    raw = rec.get("messages")
    if not isinstance(raw, list) or not raw:
        raise rec.error(
            f"field {rec.label('messages')} must be a non-empty list of messages", "messages"
        )
    first = raw[0]
    sharegpt = key == "conversations" or (isinstance(first, dict) and "from" in first)
    names, roles = (_SHAREGPT, _SHAREGPT_ROLES) if sharegpt else (_OPENAI, _OPENAI_ROLES)
    messages = [_message(rec, f"{key}[{i}]", item, names, roles) for i, item in enumerate(raw)]
    payload: dict[str, Any] = {"messages": messages}
    if not sharegpt and rec.has("tools"):
        tools = rec.get("tools")
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise rec.error(f"field {rec.label('tools')} must be a list of objects", "tools")
        payload["tools"] = tools
    payload["meta"] = rec.meta()
    text = "\n".join(m["content"] for m in messages if m["content"])
    return ParsedSeed("conversation", payload, text, rec.loc.number)


def _message(
    rec: Record, path: str, item: Any, names: tuple[str, str], roles: dict[str, str]
) -> dict[str, Any]:
    role_key, content_key = names
    loc = rec.loc
    if not isinstance(item, dict):
        raise loc.error(f"field {path!r} must be an object, got {json_type(item)}", field=path)
    role = item.get(role_key)
    if role is None:
        field = f"{path}.{role_key}"
        raise loc.error(
            f"field {field!r} is missing; expected one of {', '.join(roles)}", field=field
        )
    if not isinstance(role, str) or role not in roles:
        raise loc.error(
            f"{path}.{role_key} {short(role)} is not one of {', '.join(roles)}",
            field=f"{path}.{role_key}",
        )
    content = item.get(content_key)
    # OpenAI's format leaves content null on an assistant turn that only calls tools.
    calls_tools = roles[role] == "assistant" and bool(item.get("tool_calls"))
    if not isinstance(content, str) and not (content is None and calls_tools):
        field = f"{path}.{content_key}"
        raise loc.error(f"field {field!r} must be a string, got {json_type(content)}", field=field)
    extras = {k: v for k, v in item.items() if k not in names}
    return {"role": roles[role], "content": content} | extras
