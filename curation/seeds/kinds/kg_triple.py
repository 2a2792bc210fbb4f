"""Knowledge-graph triples: one (head, relation, tail) fact per record (KG2Tool's graph).

A seed set of triples is one graph: recipes load every triple of the run's seeds and walk
it. Entity types are optional; a recipe that names APIs by type uses "entity" without one.
"""

from __future__ import annotations

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

MAX_NAME = 200  # an entity or relation name, not a passage
_FIELDS = ("head", "relation", "tail", "head_type", "tail_type")

SPEC = KindSpec(
    id="kg_triple",
    label="Knowledge-graph triple",
    description="One fact of a knowledge graph: head entity, relation, tail entity, with "
    "optional entity types. A seed set of triples is one graph. A CSV with the columns "
    "head, relation, tail (and head_type, tail_type) imports too. Names are one line each; "
    "surrounding whitespace is dropped.",
    fields=(
        FieldSpec(
            "head", "The head (subject) entity.", required=True, aliases=("subject", "source", "h")
        ),
        FieldSpec(
            "relation",
            "The relation from head to tail.",
            required=True,
            aliases=("predicate", "rel", "r"),
        ),
        FieldSpec(
            "tail", "The tail (object) entity.", required=True, aliases=("object", "target", "t")
        ),
        FieldSpec(
            "head_type",
            "Optional type of the head entity (person, city, ...).",
            aliases=("subject_type", "source_type"),
        ),
        FieldSpec(
            "tail_type", "Optional type of the tail entity.", aliases=("object_type", "target_type")
        ),
    ),
    payload=_FIELDS,
    example={
        "head": "Ada Brook",
        "relation": "lives_in",
        "tail": "Millbrook",
        "head_type": "person",
        "tail_type": "town",
    },
    detected_by="'head', 'relation' and 'tail' (or 'subject', 'predicate', 'object')",
)


def parse(rec: Record) -> ParsedSeed:
    values = {name: _name(rec, name, required=name in SPEC.required) for name in _FIELDS}
    head, relation, tail = values["head"], values["relation"], values["tail"]
    return ParsedSeed(
        "kg_triple", {**values, "meta": rec.meta()}, f"{head} {relation} {tail}", rec.loc.number
    )


def _name(rec: Record, name: str, *, required: bool) -> str:
    value = rec.scalar(name, required=required).strip()
    if required and not value:
        raise rec.error(f"field {rec.label(name)} must be a non-empty string, got blanks", name)
    if "\n" in value or "\r" in value:
        raise rec.error(f"field {rec.label(name)} holds several lines; give one name", name)
    if len(value) > MAX_NAME:
        raise rec.error(
            f"field {rec.label(name)} is {len(value):,} characters; a name is at most {MAX_NAME}",
            name,
        )
    return value
