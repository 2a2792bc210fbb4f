"""SynPO: the bench's instruction seeds; prompts use their keywords, the judge prefers the
improver's answer in both orders."""

from __future__ import annotations

import re
from typing import Any

from tests.generation.cases import Case, counter, words

SEED_PROMPTS = r"^(?:Write|Classify|Convert|Summarise|Give|Explain)"


def last_user(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def new_prompt(tick: Any) -> Any:
    def reply(body: dict[str, Any]) -> str:
        keywords = re.findall(r"Keywords: (.*)\nPrompt:", last_user(body))[-1].split(", ")
        return f"Tell me how {keywords[0]} and {keywords[1]} relate to {words(tick(), 4)}."

    return reply


def better_one(body: dict[str, Any]) -> str:
    return "A" if "(A) <response>Better" in last_user(body) else "B"


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"Keywords: [^\n]*\nPrompt:\s*$", new_prompt(tick))
    fake.script(r"between <improved> and </improved>", lambda body: f"Better {words(tick())}.")
    fake.script(r"The answer is: \($", better_one)
    fake.script(rf"^Tell me how|{SEED_PROMPTS}", lambda body: f"Draft {words(tick())}.")


CASE = Case(script, {"generator_shots": 2, "improver_shots": 1})
