"""Symbolic KD: text seed events; new events, then inferences per relation, judged 4 of 5."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

EVENTS = [
    "PersonX goes to the grocery store",
    "PersonX forgets their umbrella",
    "PersonX bakes a cake for PersonY",
    "PersonX misses the last bus home",
    "PersonX adopts a kitten",
    "PersonX paints the fence",
]


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"^You check commonsense", "Plausible. Score: 4")
    fake.script(
        r"Continue the list with a new event",
        lambda body: [f" PersonX {words(tick(), 4)}" for _ in range(body.get("n") or 1)],
    )
    fake.script(r"Alex", lambda body: [f" {words(tick(), 3)}." for _ in range(body.get("n") or 1)])


SEEDS = "\n".join(json.dumps({"text": e}) for e in EVENTS).encode()
CASE = Case(script, {"n_inferences": 2, "events_per_call": 2, "relations": "xWant, xReact"}, SEEDS)
