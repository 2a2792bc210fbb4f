"""Labelled examples: text (or a text pair) with a class label (SuperGen, ZeroGen, SELF-GUIDE)."""

from __future__ import annotations

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="labelled",
    label="Labelled example",
    description="A text, or a pair of texts, with its label. Labels are stored as strings "
    "(a number becomes its digits, a boolean true or false).",
    fields=(
        FieldSpec(
            "text",
            "The text (the first of a pair).",
            required=True,
            aliases=("sentence", "sentence1", "premise", "text_a"),
        ),
        FieldSpec("text_b", "Optional second text of a pair.", aliases=("sentence2", "hypothesis")),
        FieldSpec("label", "The class label.", required=True, aliases=("class", "category")),
    ),
    payload=("text", "text_b", "label"),
    example={"text": "The battery died after an hour.", "label": "negative"},
    detected_by="'label' with 'text' (or 'sentence', 'sentence1', 'premise', 'text_a')",
)


def parse(rec: Record) -> ParsedSeed:
    text = rec.text("text", required=True)
    text_b = rec.text("text_b")
    label = rec.scalar("label", required=True)
    payload = {"text": text, "text_b": text_b, "label": label, "meta": rec.meta()}
    parts = [text, text_b, f"label: {label}"]
    return ParsedSeed("labelled", payload, "\n".join(p for p in parts if p), rec.loc.number)
