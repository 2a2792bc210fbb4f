"""Tool calling by prompt, for endpoints without native tools (`generation.llm` uses it).

The tools go into the system message with a protocol the model answers in: each call as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (the Hermes / Qwen convention, which
small instruct models know), anything else as plain text. Earlier assistant calls and tool
results in the conversation are written the same way, so a multi-step agent loop reads as
one protocol. The reply is parsed back into `ToolCall`s; like native calls, the arguments are
model output and a broken one is kept with its error, never raised.
"""

from __future__ import annotations

import json
import re
from typing import Any

from generation.llm_tools import ToolCall, parse_arguments

_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)

PROTOCOL = """You can call these tools. Each is given as a JSON Schema of its arguments:

{tools}

To call tools, reply with one block per call and nothing else:
<tool_call>{{"name": "<tool name>", "arguments": {{<the arguments as JSON>}}}}</tool_call>
Tool results come back in <tool_response> blocks. {when}"""
WHEN = {
    "auto": "When no tool is needed, answer in plain text.",
    "required": "You must call at least one tool now.",
    "none": "Do not call a tool now; answer in plain text.",
}


def _choice(tool_choice: str | dict[str, Any] | None) -> str:
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name", "")
        return f"You must call the tool {name} now."
    return WHEN.get(tool_choice or "auto", WHEN["auto"])


def describe(tools: list[dict[str, Any]]) -> str:
    shown = []
    for tool in tools:
        fn = tool.get("function", tool)
        shown.append(
            json.dumps(
                {
                    "name": fn.get("name", ""),
                    "description": fn.get("description", ""),
                    "parameters": fn.get("parameters", {}),
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(shown)


def prompted(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    tool_choice: str | dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The conversation as plain chat: the protocol in the system message, earlier calls as
    <tool_call> text, tool results as user turns in <tool_response> blocks."""
    protocol = PROTOCOL.format(tools=describe(tools), when=_choice(tool_choice))
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in messages:
        role = m.get("role")
        if role == "system":
            out.append({"role": "system", "content": f"{m.get('content') or ''}\n\n{protocol}"})
            continue
        if role == "assistant" and m.get("tool_calls"):
            blocks = []
            for call in m["tool_calls"]:
                fn = call.get("function") or {}
                names[str(call.get("id", ""))] = str(fn.get("name", ""))
                arguments, _ = parse_arguments(str(fn.get("arguments") or ""))
                body = {"name": fn.get("name", ""), "arguments": arguments or {}}
                blocks.append(f"<tool_call>{json.dumps(body, ensure_ascii=False)}</tool_call>")
            text = "\n".join([*([m["content"]] if m.get("content") else []), *blocks])
            out.append({"role": "assistant", "content": text})
            continue
        if role == "tool":
            name = names.get(str(m.get("tool_call_id", "")), "")
            block = f'<tool_response name="{name}">\n{m.get("content") or ""}\n</tool_response>'
            if out and out[-1]["role"] == "user" and "<tool_response" in out[-1]["content"]:
                out[-1] = {"role": "user", "content": f"{out[-1]['content']}\n{block}"}
            else:
                out.append({"role": "user", "content": block})
            continue
        out.append({"role": role, "content": m.get("content") or ""})
    if not out or out[0]["role"] != "system":
        out.insert(0, {"role": "system", "content": protocol})
    return out


def parse_reply(text: str, start: int = 0) -> tuple[str, list[ToolCall]]:
    """(the text outside the blocks, the calls in them). A block that is not the protocol's
    JSON is kept as a call with empty name and its error, as a broken native call would be."""
    calls: list[ToolCall] = []
    for index, found in enumerate(_CALL.finditer(text)):
        raw = found.group(1)
        name, arguments_json, error = "", raw, ""
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            body, error = None, f"the tool call is not valid JSON: {exc}"
        if isinstance(body, dict):
            name = str(body.get("name") or "")
            given = body.get("arguments", body.get("parameters", {}))
            arguments_json = (
                given if isinstance(given, str) else json.dumps(given, ensure_ascii=False)
            )
        elif body is not None:
            error = "the tool call is not a JSON object"
        arguments, problem = parse_arguments(arguments_json) if not error else (None, error)
        calls.append(
            ToolCall(
                id=f"call_{start + index}",
                name=name,
                arguments_json=arguments_json,
                arguments=arguments,
                arguments_error=problem,
            )
        )
    rest = _CALL.sub("", text).strip()
    return rest, calls
