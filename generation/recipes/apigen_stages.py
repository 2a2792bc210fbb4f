"""APIGen's pieces that are not steps: query styles, the generator's JSON, the seed QA
examples, what counts as an empty execution result, and the semantic checker's verdict."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from generation.recipes.base import SeedRow
from generation.recipes.kit.parse import unwrap
from generation.tools import bfcl

Style = Literal["simple", "multiple", "parallel", "parallel_multiple"]
STYLES: tuple[Style, ...] = ("simple", "multiple", "parallel", "parallel_multiple")
# What the generator is told each style means (the paper's four BFCL categories).
STYLE_TEXT = {
    "simple": "one query that needs exactly one call of one function",
    "multiple": "one query that needs exactly one call, of the most suitable one of the "
    "functions given",
    "parallel": "one query that needs several calls of the same function with different arguments",
    "parallel_multiple": "one query that needs several calls, of more than one of the "
    "functions given",
}
# Structured output for ② GEN: a list of (query, answers) pairs.
PAIRS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pairs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "answers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "arguments": {"type": "object"},
                            },
                            "required": ["name", "arguments"],
                        },
                    },
                },
                "required": ["query", "answers"],
            },
        }
    },
    "required": ["pairs"],
}
EMPTY_RESULTS = ("", "null", "[]", "{}", '""')
_VERDICT = re.compile(r"(?:verdict|passes|answer)\W{0,4}(yes|no)\b", re.IGNORECASE)
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Pair:
    query: str
    calls: list[bfcl.Call]


def tools_wanted(style: str, available: int, most: int) -> int:
    """How many functions ① SAMPLE shows: one for simple/parallel, 2..most for the others
    (as many as there are, when fewer)."""
    if style in ("simple", "parallel"):
        return 1
    return max(1, min(most, available))


def style_for(style: str, shown: int) -> str:
    """A multi-function style with one function left becomes its one-function style."""
    if shown > 1:
        return style
    return {"multiple": "simple", "parallel_multiple": "parallel"}.get(style, style)


def pairs_of(parsed: Any, text: str) -> list[Pair] | None:
    """The generator's pairs, from its structured output or its text; None if unreadable.
    A pair whose answer list is malformed keeps the calls it has (stage 1 judges them)."""
    value = parsed
    if not isinstance(value, dict):
        try:
            value = json.loads(unwrap(text))
        except ValueError:
            return None
    if isinstance(value, list):
        value = {"pairs": value}
    raw = value.get("pairs") if isinstance(value, dict) else None
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            continue
        query = item["query"].strip()
        answers = item.get("answers")
        if query and isinstance(answers, list):
            out.append(Pair(query, [_call(a) for a in answers]))
    return out


def _call(answer: Any) -> bfcl.Call:
    if not isinstance(answer, dict):
        return bfcl.Call("", None, "the call is not an object")
    name = answer.get("name")
    arguments = answer.get("arguments")
    if isinstance(arguments, str):  # some models write the arguments as JSON text
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = None
    if not isinstance(arguments, dict):
        return bfcl.Call(str(name or ""), None, "arguments are not a JSON object")
    return bfcl.Call(str(name or ""), arguments)


def examples_of(tools: Sequence[SeedRow], k: int) -> str:
    """Up to k seed QA examples of the shown tools (a tool_spec seed's meta.examples:
    [{"query", "answers"}]), as JSON lines; "" when there are none."""
    lines: list[str] = []
    for seed in tools:
        found = (seed.payload.get("meta") or {}).get("examples")
        for example in found if isinstance(found, list) else []:
            if isinstance(example, dict) and "query" in example and "answers" in example:
                shown = {"query": example["query"], "answers": example["answers"]}
                lines.append(json.dumps(shown, ensure_ascii=False))
    return "\n".join(lines[:k])


def empty(text: str) -> bool:
    """Stage 2: a result that says nothing (APIGen drops empty results)."""
    return text.strip() in EMPTY_RESULTS


def yes_no(text: str, maximum: float = 1.0) -> float | None:
    """The semantic checker's verdict: 1 for yes, 0 for no, None when it says neither.
    A 'Verdict: …' line wins; else the last bare yes/no in the reply."""
    found = _VERDICT.findall(text) or _YES_NO.findall(text)
    if not found:
        return None
    return maximum if found[-1].lower() == "yes" else 0.0


def calls_json(calls: Sequence[bfcl.Call]) -> str:
    return json.dumps(
        [{"name": c.name, "arguments": c.arguments} for c in calls], ensure_ascii=False
    )
