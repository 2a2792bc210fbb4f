"""KG2Tool's graph and its APIs: the run's kg_triple seeds as one knowledge graph.

Every relation becomes an API per head type, `get_<relation>_of_<headtype>` (entities →
the tails they reach), and its inverse `get_inverse_<relation>_of_<tailtype>` (entities →
the heads that reach them); three set APIs combine results: `get_intersection_of`,
`get_union_of` and `get_negation_of` (entities less the excluded ones). `Graph.call` is
their implementation: plain Python over the loaded triples, deterministic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generation.recipes.base import SeedRow

KIND = "kg_triple"
UNTYPED = "entity"  # the type of an entity no triple gives one
INTERSECTION, UNION, NEGATION = "get_intersection_of", "get_union_of", "get_negation_of"
SET_APIS = (INTERSECTION, UNION, NEGATION)
_NAME = re.compile(r"[^a-z0-9]+")
_ENTITIES = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Entity names, exactly as earlier results or the question give them.",
}


def slug(text: str) -> str:
    return _NAME.sub("_", text.lower()).strip("_") or "x"


@dataclass(frozen=True, slots=True)
class Triple:
    head: str
    relation: str
    tail: str
    head_type: str = UNTYPED
    tail_type: str = UNTYPED
    seed_id: int = 0

    @classmethod
    def of(cls, seed: SeedRow) -> Triple:
        p = seed.payload
        return cls(
            str(p["head"]), str(p["relation"]), str(p["tail"]),
            str(p.get("head_type") or UNTYPED), str(p.get("tail_type") or UNTYPED), seed.id,
        )  # fmt: skip


@dataclass
class Api:
    """One projection API: along `relation` (backwards when `inverse`) from `input_type`."""

    name: str
    relation: str
    inverse: bool
    input_type: str
    output_types: set[str] = field(default_factory=set)
    # entity → {reached entity: the seed id of the triple that links them}
    edges: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def reach(self, entities: Iterable[str]) -> set[str]:
        return {t for e in entities for t in self.edges.get(e, {})}

    def tool(self) -> dict[str, Any]:
        outputs = "/".join(sorted(self.output_types))
        if self.inverse:
            what = (f"For each given {self.input_type}, the {outputs} entities X with "
                    f"X --{self.relation}--> it")  # fmt: skip
        else:
            what = (f"For each given {self.input_type}, the {outputs} entities X with "
                    f"it --{self.relation}--> X")  # fmt: skip
        return function(self.name, f"{what}; returns them all, sorted.", {"entities": _ENTITIES})


def function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
        },
    }


SET_TOOLS = {
    INTERSECTION: function(
        INTERSECTION,
        "The entities found in every one of the given lists.",
        {"sets": {"type": "array", "items": _ENTITIES, "description": "Two or more lists."}},
    ),
    UNION: function(
        UNION,
        "The entities found in any of the given lists.",
        {"sets": {"type": "array", "items": _ENTITIES, "description": "Two or more lists."}},
    ),
    NEGATION: function(
        NEGATION,
        "The given entities less the excluded ones.",
        {"entities": _ENTITIES, "excluded": _ENTITIES},
    ),
}


class Graph:
    """The triples, the APIs derived from them, and the APIs' implementation."""

    def __init__(self, triples: Iterable[Triple]) -> None:
        self.apis: dict[str, Api] = {}
        self.types: dict[str, str] = {}
        self.size = 0
        keys: dict[tuple[str, bool, str], str] = {}
        for t in triples:
            self.size += 1
            self.types.setdefault(t.head, t.head_type)
            self.types.setdefault(t.tail, t.tail_type)
            for inverse in (False, True):
                source, target = (t.tail, t.head) if inverse else (t.head, t.tail)
                kind, out = (t.tail_type, t.head_type) if inverse else (t.head_type, t.tail_type)
                key = (t.relation, inverse, kind)
                if key not in keys:
                    keys[key] = self._name(t.relation, inverse, kind)
                    self.apis[keys[key]] = Api(keys[key], t.relation, inverse, kind)
                api = self.apis[keys[key]]
                api.output_types.add(out)
                api.edges[source].setdefault(target, t.seed_id)

    @classmethod
    def from_seeds(cls, seeds: Iterable[SeedRow]) -> Graph:
        return cls(Triple.of(s) for s in seeds if s.kind == KIND)

    def _name(self, relation: str, inverse: bool, kind: str) -> str:
        base = f"get_{'inverse_' if inverse else ''}{slug(relation)}_of_{slug(kind)}"[:60]
        name, n = base, 1
        while name in self.apis or name in SET_APIS:
            n += 1
            name = f"{base}_{n}"
        return name

    @property
    def entities(self) -> list[str]:
        return sorted(self.types)

    def tools(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """The OpenAI tool schemas of these API names (projections and set APIs)."""
        return [SET_TOOLS[n] if n in SET_TOOLS else self.apis[n].tool() for n in names]

    def call(self, name: str, arguments: Mapping[str, Any]) -> list[str]:
        """Execute one API call on the graph: the sorted entity names it returns."""
        if name == INTERSECTION:
            sets = [set(s) for s in arguments["sets"]]
            return sorted(set.intersection(*sets)) if sets else []
        if name == UNION:
            return sorted(set().union(*(set(s) for s in arguments["sets"])))
        if name == NEGATION:
            return sorted(set(arguments["entities"]) - set(arguments["excluded"]))
        return sorted(self.apis[name].reach(arguments["entities"]))
