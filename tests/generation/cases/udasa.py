"""UDASA: twelve instruction seeds; distinct responses, judge scores that vary call by call."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"^Judge how factually reliable", lambda body: f"Fine. Score: {tick() % 6}")
    fake.script(r"^Judge how well the assistant", lambda body: f"Fine. Score: {tick() % 6}")
    fake.script(
        r"^Describe ",
        lambda body: [f"It is {words(tick())}." for _ in range(body.get("n") or 1)],
    )


SEEDS = "\n".join(
    json.dumps({"instruction": f"Describe {words(n, 4)}.", "output": "It is so."})
    for n in range(12)
).encode()
CASE = Case(script, {"n_responses": 3, "judge_samples": 1}, SEEDS)
