"""Calls and possible answers: reading BFCL's ground truth, and going between the two.

A possible answer lists, per expected call, each parameter's acceptable values:
[{"func": {"param": [value, ...]}}]. "" among them means the parameter may be omitted. An
object parameter's values are patterns ({key: [acceptable values]}); a list of objects is
a list of such patterns, in order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generation.llm_tools import parse_tool_calls
from generation.tools.bfcl import values


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: dict[str, Any] | None  # None: the model's arguments were not a JSON object
    error: str = ""  # why arguments is None


@dataclass(frozen=True, slots=True)
class Expected:
    name: str
    params: dict[str, list[Any]]  # parameter -> acceptable values


def parse_gold(ground_truth: list[Any]) -> list[Expected]:
    """BFCL's ground truth as expected calls; ValueError names what is malformed."""
    if not isinstance(ground_truth, list):
        raise ValueError("the ground truth must be a list of expected calls")
    out = []
    for n, entry in enumerate(ground_truth, 1):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"expected call {n} must be an object with one function name")
        ((name, params),) = entry.items()
        if not isinstance(params, dict):
            raise ValueError(f"expected call {n} ({name}): its parameters must be an object")
        for param, options in params.items():
            if not isinstance(options, list):
                raise ValueError(
                    f"expected call {n} ({name}): {param!r} must list its acceptable values"
                )
        out.append(Expected(str(name), dict(params)))
    return out


def calls_from_openai(tool_calls: Any) -> list[Call]:
    """An assistant message's `tool_calls`; ValueError when the envelope is broken."""
    return [Call(c.name, c.arguments, c.arguments_error) for c in parse_tool_calls(tool_calls)]


def category_of(calls: int, functions: int) -> str:
    """BFCL's single-turn category for this many calls over this many function docs."""
    if calls == 0:
        return "irrelevance"
    if calls == 1:
        return "simple" if functions <= 1 else "multiple"
    return "parallel" if functions <= 1 else "parallel_multiple"


def function_docs(functions: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Name -> function doc; OpenAI's {"type": "function", "function": {...}} unwrapped."""
    out: dict[str, dict[str, Any]] = {}
    for f in functions:
        if not isinstance(f, Mapping):
            continue
        doc = f.get("function") if isinstance(f.get("function"), dict) else f
        if isinstance(doc, Mapping) and isinstance(doc.get("name"), str):
            out[doc["name"]] = dict(doc)
    return out


def parameters_of(doc: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """A doc's parameter schemas by name, and the names it requires."""
    params = doc.get("parameters") if doc else None
    params = params if isinstance(params, dict) else {}
    properties = params.get("properties")
    required = params.get("required")
    return (
        properties if isinstance(properties, dict) else {},
        [r for r in required if isinstance(r, str)] if isinstance(required, list) else [],
    )


def _schemas(functions: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    return parameters_of(function_docs(functions).get(name))[0]


def _kind(schema: Any) -> str:
    """Whether a parameter is an object ("dict"), a list of objects ("dicts") or neither."""
    types = values.declared(schema)
    if types == (dict,):
        return "dict"
    items = schema.get("items") if isinstance(schema, dict) else None
    return "dicts" if types == (list,) and values.declared(items) == (dict,) else ""


def gold_from_calls(calls: Sequence[Call], functions: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The possible answer that accepts exactly these calls (each value its only option)."""

    def pattern(value: Any) -> Any:
        return {k: [v] for k, v in value.items()} if isinstance(value, dict) else value

    out = []
    for call in calls:
        schemas = _schemas(functions, call.name)
        params = {}
        for param, value in (call.arguments or {}).items():
            kind = _kind(schemas.get(param))
            if kind == "dict":
                value = pattern(value)
            elif kind == "dicts" and isinstance(value, list):
                value = [pattern(v) for v in value]
            params[param] = [value]
        out.append({call.name: params})
    return out


def calls_from_gold(ground_truth: list[Any], functions: Sequence[Mapping[str, Any]]) -> list[Call]:
    """The plainest calls the possible answer accepts: each parameter's first acceptable
    value, and no optional parameter that may be omitted."""
    docs = function_docs(functions)

    def pick(options: list[Any], must: bool) -> tuple[bool, Any]:
        if "" in options and not must:
            return False, None
        given = [o for o in options if o != ""]
        return (True, given[0]) if given else (must, "")

    def fill(pattern: Any) -> Any:
        if not isinstance(pattern, dict):
            return pattern
        out = {}
        for key, options in pattern.items():
            keep, value = pick(values.as_list(options), False)
            if keep:
                out[key] = value
        return out

    calls = []
    for want in parse_gold(ground_truth):
        schemas, must = parameters_of(docs.get(want.name))
        args = {}
        for param, options in want.params.items():
            keep, value = pick(options, param in must)
            if not keep:
                continue
            kind = _kind(schemas.get(param))
            if kind == "dict":
                value = fill(value)
            elif kind == "dicts" and isinstance(value, list):
                value = [fill(v) for v in value]
            args[param] = value
        calls.append(Call(want.name, args))
    return calls


def tool_calls(calls: Sequence[Call]) -> list[dict[str, Any]]:
    """Calls as an assistant message's OpenAI `tool_calls`."""
    return [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {
                "name": c.name,
                "arguments": json.dumps(c.arguments or {}, ensure_ascii=False),
            },
        }
        for i, c in enumerate(calls)
    ]
