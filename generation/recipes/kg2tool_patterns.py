"""KG2Tool's FOL query patterns: their shapes, their grounding on a graph, their solution.

A query is a JSON tree (journaled as is): `{"op": "e", "entity"}` an anchor,
`{"op": "p", "api", "of"}` a projection along one API, `{"op": "i", "of": [...], "not":
[...]}` an intersection (less the negated branches), `{"op": "u", "of": [...]}` a union.
The 14 patterns are BetaE's (1p 2p 3p 2i 3i ip pi 2u up 2in 3in inp pin pni). Grounding
goes backwards from a target entity, so every positive branch reaches it: the answer set
holds the target, and a negated branch is grounded on another entity of the positive set
(it removes something) but never the target.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any, Literal

from generation.recipes.kg2tool_graph import INTERSECTION, NEGATION, UNION, Graph

Node = dict[str, Any]
Pattern = Literal[
    "1p", "2p", "3p", "2i", "3i", "ip", "pi", "2u", "up", "2in", "3in", "inp", "pin", "pni"
]
PATTERNS: tuple[Pattern, ...] = (
    "1p", "2p", "3p", "2i", "3i", "ip", "pi", "2u", "up", "2in", "3in", "inp", "pin", "pni",
)  # fmt: skip
BRANCHES = 6  # candidate edges tried per projection while grounding
BUDGET = 400  # grounding steps per attempt (bounds the search on a dense graph)

_E: Node = {"op": "e"}


def _p(of: Node) -> Node:
    return {"op": "p", "of": of}


def _i(*of: Node, neg: tuple[Node, ...] = ()) -> Node:
    return {"op": "i", "of": list(of), "not": list(neg)}


def _u(*of: Node) -> Node:
    return {"op": "u", "of": list(of)}


SHAPES: dict[str, Node] = {
    "1p": _p(_E),
    "2p": _p(_p(_E)),
    "3p": _p(_p(_p(_E))),
    "2i": _i(_p(_E), _p(_E)),
    "3i": _i(_p(_E), _p(_E), _p(_E)),
    "ip": _p(_i(_p(_E), _p(_E))),
    "pi": _i(_p(_p(_E)), _p(_E)),
    "2u": _u(_p(_E), _p(_E)),
    "up": _p(_u(_p(_E), _p(_E))),
    "2in": _i(_p(_E), neg=(_p(_E),)),
    "3in": _i(_p(_E), _p(_E), neg=(_p(_E),)),
    "inp": _p(_i(_p(_E), neg=(_p(_E),))),
    "pin": _i(_p(_p(_E)), neg=(_p(_E),)),
    "pni": _i(_p(_E), neg=(_p(_p(_E)),)),
}


@dataclass(frozen=True)
class Instance:
    pattern: str
    query: Node
    answers: list[str]
    anchors: list[str]
    seed_ids: list[int]

    def to_json(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "query": self.query, "answers": self.answers,
                "anchors": self.anchors, "seed_ids": self.seed_ids}  # fmt: skip


class Grounder:
    """Subgraph matching: a pattern's shape filled with a graph's entities and APIs."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        # entity → the (api, source) pairs whose projection reaches it
        self.into: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for api in graph.apis.values():
            for source, targets in api.edges.items():
                for target in targets:
                    self.into[target].append((api.name, source))
        self.targets = sorted(self.into)
        self.budget = 0

    def instantiate(
        self, pattern: str, rng: random.Random, *, tries: int, max_answers: int
    ) -> Instance | None:
        """A grounded query whose answer set is non-empty, at most max_answers, and holds no
        anchor; None when `tries` targets gave none."""
        for _ in range(tries):
            if not self.targets:
                return None
            self.budget = BUDGET
            query = self._ground(SHAPES[pattern], rng.choice(self.targets), rng)
            if query is None:
                continue
            answers = evaluate(self.graph, query)
            anchors = anchors_of(query)
            if answers and len(answers) <= max_answers and not set(answers) & set(anchors):
                return Instance(pattern, query, answers, anchors, self.seed_ids(query))
        return None

    def _ground(self, shape: Node, target: str, rng: random.Random) -> Node | None:
        self.budget -= 1
        if self.budget < 0:
            return None
        op = shape["op"]
        if op == "e":
            return {"op": "e", "entity": target}
        if op == "p":
            edges = list(self.into.get(target, ()))
            rng.shuffle(edges)
            for api, source in edges[:BRANCHES]:
                child = self._ground(shape["of"], source, rng)
                if child is not None:
                    return {"op": "p", "api": api, "of": child}
            return None
        if op == "u":
            return self._union(shape, target, rng)
        return self._intersection(shape, target, rng)

    def _branches(self, shapes: list[Node], target: str, rng: random.Random) -> list[Node]:
        """Distinct groundings of each shape, all reaching target (or [] when not found)."""
        out: list[Node] = []
        for shape in shapes:
            for _ in range(BRANCHES):
                branch = self._ground(shape, target, rng)
                if branch is not None and branch not in out:
                    out.append(branch)
                    break
            else:
                return []
        return out

    def _intersection(self, shape: Node, target: str, rng: random.Random) -> Node | None:
        positive = self._branches(shape["of"], target, rng)
        if not positive:
            return None
        node: Node = {"op": "i", "of": positive, "not": []}
        base = set.intersection(*(set(evaluate(self.graph, b)) for b in positive))
        others = sorted(base - {target})
        rng.shuffle(others)
        for neg_shape in shape["not"]:
            for other in others[:BRANCHES]:
                branch = self._ground(neg_shape, other, rng)
                if branch is not None and target not in evaluate(self.graph, branch):
                    node["not"].append(branch)
                    break
            else:
                return None
        return node

    def _union(self, shape: Node, target: str, rng: random.Random) -> Node | None:
        first = self._branches(shape["of"][:1], target, rng)
        kind = self.graph.types.get(target)
        peers = [e for e in self.targets if self.graph.types.get(e) == kind and e != target]
        other = rng.choice(peers) if peers else target
        rest = self._branches(shape["of"][1:], other, rng)
        if not first or not rest or rest[0] in first:
            return None
        return {"op": "u", "of": first + rest}

    def seed_ids(self, node: Node) -> list[int]:
        """The seeds (triples) the query's projections walk from its anchors."""
        found: list[int] = []

        def walk(n: Node) -> set[str]:
            if n["op"] == "e":
                return {n["entity"]}
            if n["op"] == "p":
                sources = walk(n["of"])
                edges = self.graph.apis[n["api"]].edges
                reached: set[str] = set()
                for s in sorted(sources):
                    for target, seed_id in edges.get(s, {}).items():
                        reached.add(target)
                        if seed_id not in found:
                            found.append(seed_id)
                return reached
            sets = [walk(b) for b in n["of"]] + [walk(b) for b in n.get("not", [])]
            return set().union(*sets)

        walk(node)
        return found


def evaluate(graph: Graph, node: Node) -> list[str]:
    """The query's answer set, straight from the graph's edges (the sampler's answer)."""

    def ev(n: Node) -> set[str]:
        if n["op"] == "e":
            return {n["entity"]}
        if n["op"] == "p":
            return graph.apis[n["api"]].reach(ev(n["of"]))
        if n["op"] == "u":
            return set().union(*(ev(b) for b in n["of"]))
        base = set.intersection(*(ev(b) for b in n["of"]))
        return base - set().union(*(ev(b) for b in n.get("not", [])))

    return sorted(ev(node))


def anchors_of(node: Node) -> list[str]:
    if node["op"] == "e":
        return [node["entity"]]
    children = [node["of"]] if node["op"] == "p" else node["of"] + node.get("not", [])
    out: list[str] = []
    for child in children:
        out += [a for a in anchors_of(child) if a not in out]
    return out


def describe(graph: Graph, node: Node) -> str:
    """The query in arrows: `(Ada --friend_of--> ?) --lives_in--> ?`, AND / AND NOT / OR."""
    op = node["op"]
    if op == "e":
        return str(node["entity"])
    if op == "p":
        api = graph.apis[node["api"]]
        inner = describe(graph, node["of"])
        inner = inner if node["of"]["op"] == "e" else f"({inner})"
        return f"? --{api.relation}--> {inner}" if api.inverse else f"{inner} --{api.relation}--> ?"
    parts = [f"[{describe(graph, b)}]" for b in node["of"]]
    if op == "u":
        return " OR ".join(parts)
    return " AND ".join(parts) + "".join(
        f" AND NOT [{describe(graph, b)}]" for b in node.get("not", [])
    )


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    arguments: dict[str, Any]
    result: list[str]
    wave: int  # calls of one wave need only earlier waves' results: one assistant turn

    def tool_call(self) -> dict[str, Any]:
        arguments = json.dumps(self.arguments, ensure_ascii=False)
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": arguments}}  # fmt: skip


def solve(graph: Graph, node: Node) -> tuple[list[Call], list[str]]:
    """The solution path: the query's API calls in order, each executed on the graph with
    the earlier calls' results as its arguments; and the last call's result."""
    calls: list[Call] = []

    def call(name: str, arguments: dict[str, Any], wave: int) -> tuple[list[str], int]:
        result = graph.call(name, arguments)
        calls.append(Call(f"call_{len(calls)}", name, arguments, result, wave))
        return result, wave

    def run(n: Node) -> tuple[list[str], int]:
        if n["op"] == "e":
            return [n["entity"]], 0
        if n["op"] == "p":
            value, wave = run(n["of"])
            return call(n["api"], {"entities": value}, wave + 1)
        done = [run(b) for b in n["of"]]
        wave = max(w for _, w in done)
        if n["op"] == "u":
            return call(UNION, {"sets": [v for v, _ in done]}, wave + 1)
        value = done[0][0]
        if len(done) > 1:
            value, wave = call(INTERSECTION, {"sets": [v for v, _ in done]}, wave + 1)
        negs = [run(b) for b in n.get("not", [])]
        if not negs:
            return value, wave
        excluded, neg_wave = negs[0]
        if len(negs) > 1:
            excluded, neg_wave = call(UNION, {"sets": [v for v, _ in negs]},
                                      max(w for _, w in negs) + 1)  # fmt: skip
        return call(NEGATION, {"entities": value, "excluded": excluded}, max(wave, neg_wave) + 1)

    value, _ = run(node)
    # Numbered in the order they are shown: turn by turn (a stable sort keeps call order).
    shown = sorted(calls, key=lambda c: c.wave)
    return [replace(c, id=f"call_{k}") for k, c in enumerate(shown)], value


def turns(calls: list[Call]) -> list[dict[str, Any]]:
    """Assistant tool_calls turns, one per wave, each followed by its results."""
    out: list[dict[str, Any]] = []
    for wave in sorted({c.wave for c in calls}):
        batch = [c for c in calls if c.wave == wave]
        out.append({"role": "assistant", "content": None,
                    "tool_calls": [c.tool_call() for c in batch]})  # fmt: skip
        out += [
            {
                "role": "tool",
                "tool_call_id": c.id,
                "content": json.dumps(c.result, ensure_ascii=False),
            }
            for c in batch
        ]
    return out
