"""Magnet's function graph, walks and node operations, and its contrastive hints.

① The local dependency graph: an edge f → g when one of f's outputs can feed one of g's
parameters, by type (integer feeds integer or number; number, string, boolean their own)
with a shared name ranked first. f's outputs are its response schema's properties, or, for
a tool without one, the top-level fields of one probe call's result (the recipe runs it).
② A random walk over the edges gives a function-signature path. ③ Node operations turn the
path into turns: Insert (a nested call the user does not ask for), Merge (two calls in one
turn), Split (a missing parameter → a clarification turn; a missing function → an
irrelevance turn).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OPS = ("insert", "merge", "split")
_FEEDS = {"integer": {"integer", "number"}, "number": {"number"}, "string": {"string"},
          "boolean": {"boolean"}}  # fmt: skip


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def outputs_of_schema(schema: Mapping[str, Any] | None) -> dict[str, str] | None:
    props = (schema or {}).get("properties")
    if not isinstance(props, Mapping):
        return None
    return {k: str(v.get("type", "string")) for k, v in props.items() if isinstance(v, Mapping)}


def outputs_of_result(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if isinstance(value, dict):
        return {str(k): json_type(v) for k, v in value.items()}
    return {"result": json_type(value)}


def params_of(tool: Mapping[str, Any]) -> dict[str, str]:
    props = tool["function"].get("parameters", {}).get("properties", {})
    return {k: str(v.get("type", "string")) for k, v in props.items() if isinstance(v, Mapping)}


def probe_arguments(tool: Mapping[str, Any], examples: Sequence[Any] = ()) -> dict[str, Any]:
    """Arguments for the probe call: a seed example's, else a plain value per type."""
    name = tool["function"]["name"]
    for example in examples:
        for answer in example.get("answers", []) if isinstance(example, dict) else []:
            if isinstance(answer, dict) and answer.get("name") == name:
                return dict(answer.get("arguments") or {})
    plain = {"integer": 2, "number": 2.5, "string": "example text", "boolean": True}
    return {k: plain.get(t, "example") for k, t in params_of(tool).items()}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    output: str  # the source's output field
    param: str  # the target's parameter it feeds


def edges(tools: Sequence[Mapping[str, Any]], outputs: Mapping[str, dict[str, str]]) -> list[Edge]:
    """Every f → g (g ≠ f) where an output of f can feed a parameter of g; per pair the
    best (same name first), in the tools' order."""
    out = []
    for f in tools:
        fname = f["function"]["name"]
        for g in tools:
            gname = g["function"]["name"]
            if gname == fname:
                continue
            fits = [(o != p, o, p) for o, ot in outputs.get(fname, {}).items()
                    for p, pt in params_of(g).items() if pt in _FEEDS.get(ot, set())]  # fmt: skip
            if fits:
                _, o, p = min(fits)
                out.append(Edge(fname, gname, o, p))
    return out


def walk(names: Sequence[str], graph: Sequence[Edge], length: int, rng: random.Random) -> list[str]:
    """A random walk of `length` functions: each next one an unvisited out-neighbour when
    there is one, else (a dead end) a jump to an unvisited function, else any function."""
    path = [rng.choice(list(names))]
    while len(path) < length:
        here = path[-1]
        nexts = [e.target for e in graph if e.source == here and e.target not in path]
        fresh = [n for n in names if n not in path]
        path.append(rng.choice(nexts or fresh or list(names)))
    return path


@dataclass
class Turn:
    """One planned turn: its calls (function names, in order), the op that shaped it, and
    for Insert the call the user does not ask for, for Split the withheld parameter."""

    functions: list[str]
    op: str = "plain"  # plain | insert | merge | split_param | split_function
    hidden: str = ""  # insert: the nested function the user does not name
    missing: str = ""  # split_param: the parameter the user leaves out
    extra: dict[str, Any] = field(default_factory=dict)


def plan(
    path: Sequence[str],
    tools: Mapping[str, Mapping[str, Any]],
    graph: Sequence[Edge],
    ops: Sequence[str],
    rate: float,
    rng: random.Random,
) -> list[Turn]:
    """③ The path's nodes as turns, each node given an op with probability `rate`."""
    turns: list[Turn] = []
    i = 0
    while i < len(path):
        name = path[i]
        op = rng.choice(list(ops)) if ops and rng.random() < rate else "plain"
        feeders = [e.source for e in graph if e.target == name]
        if op == "merge" and i + 1 < len(path):
            turns.append(Turn([name, path[i + 1]], "merge"))
            i += 2
            continue
        if op == "insert" and feeders:
            inner = rng.choice(feeders)
            turns.append(Turn([inner, name], "insert", hidden=inner))
        elif op == "split":
            required = list(tools[name]["function"].get("parameters", {}).get("required", []))
            if required:
                turns.append(Turn([name], "split_param", missing=rng.choice(required)))
            else:
                turns.append(Turn([], "split_function"))
                turns.append(Turn([name]))
        else:
            turns.append(Turn([name]))
        i += 1
    return turns


# -- contrastive hints -------------------------------------------------------------------


def perturbed(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + rng.choice((1, 2, 3, 10))
    if isinstance(value, str):
        words = value.split()
        return " ".join(words[:-1]) if len(words) > 1 else f"{value} extra"
    return value


def wrong_hint(
    calls: Sequence[dict[str, Any]],
    tools: Mapping[str, Mapping[str, Any]],
    rng: random.Random,
) -> tuple[list[dict[str, Any]], str]:
    """A contrastive hint for a turn's reference calls: another function that takes the
    same arguments (when one does), else one argument value changed; and what changed."""
    target = rng.randrange(len(calls))
    call = calls[target]
    args = dict(call["arguments"])
    swaps = [n for n, t in tools.items() if n != call["name"] and set(params_of(t)) == set(args)]
    if swaps and rng.random() < 0.5:
        changed = {"name": rng.choice(swaps), "arguments": args}
        why = f"wrong_function: {call['name']} → {changed['name']}"
    else:
        key = rng.choice(sorted(args)) if args else ""
        if key:
            args[key] = perturbed(args[key], rng)
        changed = {"name": call["name"], "arguments": args}
        why = f"wrong_value: {call['name']}.{key}" if key else f"wrong_value: {call['name']}"
    return [*calls[:target], changed, *calls[target + 1 :]], why
