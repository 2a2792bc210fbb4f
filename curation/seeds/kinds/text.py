"""Plain text: a passage, a red-team prompt, anything a recipe reads as one string."""

from __future__ import annotations

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="text",
    label="Text",
    description="One piece of plain text.",
    fields=(FieldSpec("text", "The text.", required=True),),
    payload=("text",),
    example={"text": "How do I pick a lock?"},
    detected_by="a 'text' key (and none of the keys below)",
)


def parse(rec: Record) -> ParsedSeed:
    text = rec.text("text", required=True)
    return ParsedSeed("text", {"text": text, "meta": rec.meta()}, text, rec.loc.number)
