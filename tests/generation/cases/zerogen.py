"""ZeroGen: four labels (so an item is five calls in a row: short slices cut it mid-way),
numbered movie titles and distinct 12-word reviews."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = "\n".join(
    json.dumps({"text": text, "label": label})
    for text, label in [
        ("Loved every minute.", "positive"),
        ("A dull, endless film.", "negative"),
        ("It was a film.", "neutral"),
        ("Great cast, awful script.", "mixed"),
    ]
).encode()


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"Name one movie", lambda body: f"The {words(tick(), 2)} Affair")
    fake.script(
        r"Continue the text below",
        lambda body: [
            f'Honestly, {words(tick(), 10)}." she wrote.' for _ in range(body.get("n") or 1)
        ],
    )


CASE = Case(script, {"samples": 2}, SEEDS)
