"""Magnet ⑤: the teacher plays the assistant, turn by turn, with a hint for each turn: the
reference calls (positive) or contrastive wrong ones (negative). Its calls run through the
tool simulator; the hint is in its system prompt only, never in the exported messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generation.recipes.apigen_mt_rollout import native_calls

if TYPE_CHECKING:
    from generation.recipes import kit


@dataclass
class Exchange:
    """One user message and what the assistant should do about it: `calls` (reference
    calls with their results), or no call: "ask" for `missing`, or "refuse" (irrelevance)."""

    user: str
    kind: str  # call | ask | refuse
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments", "result"}
    missing: str = ""
    op: str = "plain"


def hint(kind: str, calls: list[dict[str, Any]], missing: str = "") -> str:
    if kind == "ask":
        return (f"Call no tool this turn: the user did not give `{missing}`; ask them for it "
                "in one short question.")  # fmt: skip
    if kind == "refuse":
        return "Call no tool this turn: none of the tools can do this; say so briefly."
    shown = [{"name": c["name"], "arguments": c["arguments"]} for c in calls]
    return ("Make exactly these tool calls this turn, in order, then answer from their results:"
            f"\n{json.dumps(shown, ensure_ascii=False)}")  # fmt: skip


def same_calls(made: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    def key(c: dict[str, Any]) -> str:
        return json.dumps([c["name"], c["arguments"]], sort_keys=True)

    return [key(c) for c in made] == [key(c) for c in wanted]


async def teacher_turn(
    it: kit.Item[Any],
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    guidance: str,
    label: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """The assistant's messages for the last user message, the calls it made, and whether it
    ended with a text reply."""
    p = it.params
    system = it.host.prompts["teacher"].render(hint=guidance)
    out: list[dict[str, Any]] = []
    made: list[dict[str, Any]] = []
    for _ in range(p.max_steps):
        reply = await it.gen(messages=[{"role": "system", "content": system}, *messages, *out],
                             tools=tools, tool_choice="auto", temperature=p.temperature,
                             max_tokens=p.max_tokens)  # fmt: skip
        calls = native_calls(reply.tool_calls)
        if not calls:
            text = reply.text.strip()
            if text:
                out.append({"role": "assistant", "content": text})
            return out, made, bool(text)
        wire = []
        for call in calls:
            call_id = f"{label}_{len(made)}"
            made.append({"name": call.name, "arguments": call.arguments, "id": call_id})
            function = {"name": call.name, "arguments": json.dumps(call.arguments or {})}
            wire.append({"id": call_id, "type": "function", "function": function})
        out.append({"role": "assistant", "content": reply.text.strip() or None, "tool_calls": wire})
        for entry in made[-len(calls) :]:
            arguments = entry["arguments"] if entry["arguments"] is not None else "not an object"
            result = await it.tool(entry["name"], arguments)
            entry["result"] = result.text
            out.append(result.message(entry["id"]))
    return out, made, False
