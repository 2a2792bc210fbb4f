"""Word lists: one word or phrase per record (SPAG's target words, SynPO's keywords)."""

from __future__ import annotations

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

MAX_WORD = 200  # a phrase, not a passage

SPEC = KindSpec(
    id="word_list",
    label="Word list",
    description="One word or phrase per record; a .txt with one word per line imports too. "
    "Surrounding whitespace is dropped.",
    fields=(
        FieldSpec(
            "word", "The word or phrase (one line).", required=True, aliases=("phrase", "term")
        ),
    ),
    payload=("word",),
    example={"word": "lighthouse"},
    detected_by="a 'word' key, or a .txt file of short lines",
)


def parse(rec: Record) -> ParsedSeed:
    word = rec.text("word", required=True).strip()
    if "\n" in word or "\r" in word:
        raise rec.error(
            f"field {rec.label('word')} holds several lines; give one word or phrase per record",
            "word",
        )
    if len(word) > MAX_WORD:
        raise rec.error(
            f"field {rec.label('word')} is {len(word):,} characters; "
            f"a word or phrase is at most {MAX_WORD}",
            "word",
        )
    return ParsedSeed("word_list", {"word": word, "meta": rec.meta()}, word, rec.loc.number)
