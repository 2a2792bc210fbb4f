"""ToolGrad's workflow: the chain of calls kept so far, how a proposed call is read from the
model, how the textual gradient's decision is read, which argument values a user must state
(and whether a query states them), and the chain as a tool trajectory."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from generation.recipes.kit.parse import unwrap
from generation.tools import bfcl

RESULT_CHARS = 1000  # per result shown to the model
EMPTY = "(empty: no calls yet)"
_DECISION = re.compile(r"decision\W{0,4}(keep|drop)\b", re.IGNORECASE)
_LABEL = re.compile(r"^\s*\**\s*(?:user\s+)?(?:query|request|user)\s*\**\s*:\s*", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Link:
    """One kept call of the chain and the result it gave."""

    name: str
    arguments: dict[str, Any]
    result: str

    def line(self, index: int) -> str:
        args = json.dumps(self.arguments, ensure_ascii=False)
        return f"Step {index}: {self.name}({args}) -> {self.result[:RESULT_CHARS]}"

    def same_call(self, call: bfcl.Call) -> bool:
        return self.name == call.name and self.arguments == call.arguments


def render(chain: Sequence[Link]) -> str:
    return "\n".join(link.line(i) for i, link in enumerate(chain, 1)) or EMPTY


def candidates(tools: Sequence[dict[str, Any]]) -> str:
    """The mini-batch as the forward prompt lists it: one tool a line."""
    lines = []
    for tool in tools:
        fn = tool["function"]
        params = ", ".join(fn.get("parameters", {}).get("properties", {}))
        lines.append(f"- {fn['name']}({params}): {fn.get('description', '')}")
    return "\n".join(lines)


def proposed(tool_calls: Sequence[Sequence[dict[str, Any]]] | None, text: str) -> bfcl.Call | None:
    """The forward step's call: its first native tool call, else a JSON object
    {"name": ..., "arguments": {...}} (or a <tool_call> block) in its text; None if none."""
    for choice in tool_calls or []:
        try:
            calls = bfcl.calls_from_openai(list(choice))
        except ValueError:
            continue
        if calls:
            return calls[0]
    for value in _json_objects(text):
        name, arguments = value.get("name"), value.get("arguments", value.get("parameters"))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = None
        if isinstance(name, str) and name.strip():
            if isinstance(arguments, dict):
                return bfcl.Call(name.strip(), arguments)
            return bfcl.Call(name.strip(), None, "arguments are not a JSON object")
    return None


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def decision(text: str) -> str | None:
    """The gradient's last "Decision: keep|drop", lower-cased; None when it gives none."""
    found = _DECISION.findall(text)
    return found[-1].lower() if found else None


def critique(text: str) -> str:
    """The gradient without its decision line (what the next forward step reads)."""
    kept = [line for line in text.strip().splitlines() if not _DECISION.search(line)]
    return "\n".join(kept).strip()[:800]


def clean_query(text: str) -> str:
    """The synthesized request without fences, quotes or a "Query:" label."""
    return unwrap(_LABEL.sub("", unwrap(text)))


# -- the values a user must state ------------------------------------------------------


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif _stated(value):
        yield value


def _stated(value: Any) -> bool:
    """A value a person can state: a number (not a bool) or non-blank text."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(text: str) -> set[float]:
    out = set()
    for token in _NUMBER.findall(text):  # "1,000" is 1000; "12,30" may be 12 and 30
        for part in (token.replace(",", ""), *token.split(",")):
            try:
                out.add(float(part))
            except ValueError:
                continue
    return out


def mentions(text: str, value: Any) -> bool:
    """Does the text state the value? Numbers by value (12 matches "12.0", "1,000" 1000),
    text case- and space-insensitively."""
    if isinstance(value, int | float):
        return float(value) in _numbers(text)
    norm = _SPACE.sub(" ", str(value)).strip().casefold()
    return norm in _SPACE.sub(" ", text).casefold()


def user_values(chain: Sequence[Link]) -> list[tuple[str, Any]]:
    """(tool, value) for every argument value the user has to give: each leaf of each
    call's arguments, except those an earlier call's result already holds (chained)."""
    out: list[tuple[str, Any]] = []
    for index, link in enumerate(chain):
        earlier = "\n".join(x.result for x in chain[:index])
        for value in _leaves(link.arguments):
            if not (earlier and mentions(earlier, value)) and (link.name, value) not in out:
                out.append((link.name, value))
    return out


def missing(query: str, chain: Sequence[Link]) -> list[str]:
    """The user values the query does not state, as "tool: value"."""
    return [
        f"{name}: {value!r}" for name, value in user_values(chain) if not mentions(query, value)
    ]


def value_lines(chain: Sequence[Link]) -> str:
    return "\n".join(f"- {value}" for _name, value in user_values(chain)) or "- (none)"


# -- FMT -------------------------------------------------------------------------------


def trajectory(query: str, chain: Sequence[Link], answer: str) -> list[dict[str, Any]]:
    """User request; per call an assistant turn with its tool_call and the tool's result
    (one call a turn: a later call may read an earlier result); the final answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": query}]
    for index, link in enumerate(chain):
        call_id = f"call_{index}"
        function = {"name": link.name, "arguments": json.dumps(link.arguments, ensure_ascii=False)}
        call = {"id": call_id, "type": "function", "function": function}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": link.result})
    messages.append({"role": "assistant", "content": answer})
    return messages
