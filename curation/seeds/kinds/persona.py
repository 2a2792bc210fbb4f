"""Personas: who a simulated user or agent is (MATRIX, Self-Talk, APIGen-MT)."""

from __future__ import annotations

from typing import Any

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="persona",
    label="Persona",
    description="A person or agent profile: free text plus optional structured attributes.",
    fields=(
        FieldSpec("name", "Optional name."),
        FieldSpec(
            "description",
            "Who they are, in words.",
            required=True,
            aliases=("persona", "profile", "text"),
        ),
        FieldSpec(
            "attributes", "Optional object of traits (age, job, goals, ...).", aliases=("traits",)
        ),
    ),
    payload=("name", "description", "attributes"),
    example={
        "name": "Mara",
        "persona": "A night-shift nurse who budgets carefully and distrusts jargon.",
        "attributes": {"age": 41, "goals": ["save for a house"]},
    },
    detected_by="a 'persona' key",
)


def parse(rec: Record) -> ParsedSeed:
    name = rec.text("name")
    description = rec.text("description", required=True)
    attributes = rec.obj("attributes")
    payload = {
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": rec.meta(),
    }
    lines = [name, description] + [_attribute(k, v) for k, v in attributes.items()]
    return ParsedSeed("persona", payload, "\n".join(x for x in lines if x), rec.loc.number)


def _attribute(key: str, value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if not isinstance(v, dict | list))
    elif isinstance(value, dict):
        return key
    return f"{key}: {value}"
