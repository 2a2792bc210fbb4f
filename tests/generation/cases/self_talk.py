"""Self-Talk: two three-step workflows and three client personas in one seed set; the agent
does the step it is shown, so every dialogue ends with the workflow; the judge varies."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words

FLOWS = [
    {"name": f"flow_{n}", "goal": f"Help a client with {words(n, 3)}.",
     "steps": [f"Ask about the {words(n * 10 + k, 2)}." for k in range(3)]}
    for n in range(2)
]  # fmt: skip
PERSONAS = [
    {"name": f"P{n}", "persona": f"A person who likes {words(50 + n, 3)}."} for n in range(3)
]


def script(fake: Any) -> None:
    tick = counter()
    fake.script(
        r"Score the client's character consistency",
        lambda body: [f"Fine. Score: {3 + tick() % 3}" for _ in range(body.get("n") or 1)],
    )

    def say(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        step = re.search(r"Current step: (.*)", system)
        if step:
            return f"Now: {step.group(1)}"
        return f"I need help with {words(tick(), 4)}."

    fake.script(r".", say)


SEEDS = "\n".join(json.dumps(r) for r in [*FLOWS, *PERSONAS]).encode()
CASE = Case(script, {"max_turns": 8, "judge_samples": 2}, SEEDS)
