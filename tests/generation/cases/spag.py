"""SPAG: six target words; the attacker talks about something else each game, the defender
answers once and then makes a wrong guess, so every game is an attacker win with two
weighted rows (four turns: long enough for short slices to cut games mid-way)."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

TARGETS = ("lantern", "teapot", "violin", "pepper", "bicycle", "candle")


def script(fake: Any) -> None:
    tick = counter()

    def say(body: dict[str, Any]) -> str:
        if "You are the defender" in body["messages"][0]["content"]:
            if any(m["role"] == "assistant" for m in body["messages"]):
                return "I know the word! It is `nothing`!"
            return f"I would rather talk about {words(tick(), 3)}."
        return f"Tell me about {words(tick(), 4)}."

    fake.script(r".", say)


SEEDS = "\n".join(json.dumps({"word": w}) for w in TARGETS).encode()
CASE = Case(script, {"temperature": 0.7}, SEEDS)
