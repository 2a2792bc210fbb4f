"""Principles: a constitution's rules, optionally as critique/revision request pairs."""

from __future__ import annotations

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="principle",
    label="Principle",
    description="A rule to judge or revise by. Constitutional AI's pairs give a critique "
    "request and a revision request; text then defaults to the critique request.",
    fields=(
        FieldSpec("name", "Optional short name."),
        FieldSpec(
            "text",
            "The principle, in words; required unless a critique request is given.",
            aliases=("principle",),
        ),
        FieldSpec(
            "critique_request",
            "How to critique a response by this principle.",
            aliases=("critique", "critic"),
        ),
        FieldSpec(
            "revision_request",
            "How to revise a response after the critique.",
            aliases=("revision", "edit_request"),
        ),
    ),
    payload=("name", "text", "critique_request", "revision_request"),
    example={
        "name": "harmless",
        "critique_request": "Identify specific ways in which the response is harmful.",
        "revision_request": "Rewrite the response to remove any harmful content.",
    },
    detected_by="a 'principle', 'critique_request', 'revision_request' or 'edit_request' "
    "key, or 'critique' with 'revision'",
)


def parse(rec: Record) -> ParsedSeed:
    critique = rec.text("critique_request")
    revision = rec.text("revision_request")
    if bool(critique.strip()) != bool(revision.strip()):
        given, lacking = (
            ("critique_request", "revision_request")
            if critique.strip()
            else ("revision_request", "critique_request")
        )
        raise rec.error(
            f"field {rec.label(given)} needs a non-empty {lacking!r} beside it", lacking
        )
    text = rec.text("text", required=not critique.strip())
    if not text.strip():
        text = critique
    name = rec.text("name")
    payload = {
        "name": name,
        "text": text,
        "critique_request": critique,
        "revision_request": revision,
        "meta": rec.meta(),
    }
    parts = [name, text] + [p for p in (critique, revision) if p != text]
    return ParsedSeed("principle", payload, "\n".join(p for p in parts if p), rec.loc.number)
