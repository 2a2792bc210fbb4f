"""BFCL's JSONL (METHODS.md #40): a sample as one Berkeley Function Calling Leaderboard item.

A row holds `id`, `question` (one turn of chat messages), `function` (the tools as BFCL
function docs: type names dict, float, any) and `ground_truth` (per expected call, each
parameter's acceptable values). One file serves as both BFCL's question file and its
possible_answer file: each reads the keys it needs.

The item is the sample's first call step (generation.tools.bfcl.evaluate). Its possible
answers are the ones imported with it while its calls still pass them (an edit may have
changed the calls); else the calls themselves, each value its only option.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generation.tools import bfcl

if TYPE_CHECKING:
    from curation.exports.formats import Row, Src

# JSON Schema's type names in BFCL's spelling; the others are spelled alike.
_TO_BFCL = {"object": "dict", "number": "float"}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def row(s: Src) -> Row | str:
    if not s.tools:
        return "no_tools"
    try:
        question, answer = bfcl.split(s.messages)
        calls = bfcl.calls_of(answer)
    except bfcl.NotOneStep as exc:
        return str(exc)
    if not isinstance(s.tools, list) or not all(isinstance(t, dict) for t in s.tools):
        return "tools_malformed"
    functions = [function_doc(t) for t in s.tools]
    names = {f["name"] for f in functions}
    if not all(isinstance(n, str) for n in names) or len(names) != len(functions):
        return "tools_malformed"
    if any(c.arguments is None for c in calls):
        return "tool_arguments_not_json"
    if any(c.name not in names for c in calls):
        return "calls_an_unlisted_tool"
    turn = [{"role": m.get("role"), "content": m.get("content")} for m in question]
    if not any(m["role"] == "user" for m in turn):
        return "no_user_turn"
    if not all(isinstance(m["content"], str) for m in turn):
        return "content_not_text"
    gold, category, ident = bfcl.stored_item(s.extra)
    if gold is None or not _passes(calls, s.tools, gold, category):
        if answer is None:
            return "no_assistant_turn"
        gold = bfcl.gold_from_calls(calls, s.tools)
        category = bfcl.category_of(len(calls), len(functions))
        ident = f"{category}_{s.id}"
    return {"id": ident, "question": [turn], "function": functions, "ground_truth": gold}


def _passes(calls: list[bfcl.Call], tools: list[Any], gold: list[Any], category: str) -> bool:
    try:
        return bfcl.check(calls, tools, gold, category).valid
    except ValueError:
        return False


def function_doc(tool: Any) -> dict[str, Any]:
    """An OpenAI tool as a BFCL function doc: name, description, parameters."""
    fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    parameters = fn.get("parameters") or {"type": "object", "properties": {}}
    return {
        "name": fn.get("name"),
        "description": fn.get("description") or "",
        "parameters": _schema(parameters),
    }


def _schema(node: Any) -> Any:
    """JSON Schema with BFCL's type names; a parameter or item without a type is "any"
    (BFCL's checker reads every parameter's type)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            out[key] = (
                [_TO_BFCL.get(t, t) for t in value]
                if isinstance(value, list)
                else _TO_BFCL.get(value, value)
            )
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _typed(_schema(v)) for name, v in value.items()}
        elif key == "items" and isinstance(value, dict):
            out[key] = _typed(_schema(value))
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = _schema(value)
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [_schema(v) for v in value]
        else:
            out[key] = value
    return out


def _typed(schema: Any) -> Any:
    if isinstance(schema, dict) and "type" not in schema:
        return {"type": "any", **schema}
    return schema
