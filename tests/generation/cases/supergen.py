"""SuperGen: labelled sentiment seeds, distinct continuations ranked by a judge (two GEN +
two JUDGE rounds in a row per item, so short slices cut items mid-way)."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = "\n".join(
    json.dumps({"text": text, "label": label})
    for text, label in [
        ("The soup arrived hot and the staff remembered my name.", "positive"),
        ("Battery died after two days and support never answered.", "negative"),
        ("A gentle, funny film with a soundtrack I keep humming.", "positive"),
        ("The plot drags for an hour and the ending makes no sense.", "negative"),
    ]
).encode()


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"was written to belong to the category", lambda body: f"Score: {tick() % 5 + 1}")
    fake.script(
        r"Continue the text after",
        lambda body: [f"The {words(tick(), 6)} felt right." for _ in range(body.get("n") or 1)],
    )


CASE = Case(script, {"generations": 2, "keep": 1, "ranking": "judge"}, SEEDS)
