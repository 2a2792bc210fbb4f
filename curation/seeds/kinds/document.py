"""Documents: longer texts that recipes ground their questions in (AgentInstruct, Humpback)."""

from __future__ import annotations

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="document",
    label="Document",
    description="A document with an optional title and source; a .txt or .md upload is one.",
    fields=(
        FieldSpec("title", "Optional title."),
        FieldSpec("text", "The document's text.", required=True, aliases=("content", "body")),
        FieldSpec("source", "Optional origin: a URL, a file name.", aliases=("url",)),
    ),
    payload=("title", "text", "source"),
    example={
        "title": "Photosynthesis",
        "text": "Photosynthesis is the process by which plants turn light into energy...",
        "source": "https://en.wikipedia.org/wiki/Photosynthesis",
    },
    detected_by="'text' (or 'content', 'body') with 'title', 'source' or 'url'",
)


def parse(rec: Record) -> ParsedSeed:
    title = rec.text("title")
    text = rec.text("text", required=True)
    payload = {"title": title, "text": text, "source": rec.text("source"), "meta": rec.meta()}
    # A markdown file's heading is already in its text.
    rendered = f"{title}\n{text}" if title.strip() and title not in text[:500] else text
    return ParsedSeed("document", payload, rendered, rec.loc.number)
