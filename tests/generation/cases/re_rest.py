"""Re-ReST's conformance case: phone-world date tasks; the agent answers one of them wrong,
and the reflector's corrections get it right; thoughts differ call by call."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

TASKS = [
    {"env": "world", "task": {"question": f"What is today's date? ({n})",
                              "milestones": [{"call": "get_current_date"},
                                             {"answer_contains": "2026-12-01"}]}}
    for n in range(3)
]  # fmt: skip
SEEDS = "".join(json.dumps(t) + "\n" for t in TASKS).encode()


def react(body: dict[str, Any], n: int) -> str:
    prompt = body["messages"][-1]["content"]
    reflecting = "The earlier try:" in prompt
    if prompt.rstrip().endswith("(none yet)"):
        head = "Reflection: I must read the date first.\n" if reflecting else ""
        return f"{head}Thought: {words(n)}.\nAction: get_current_date\nAction Input: {{}}"
    wrong = "(1)" in prompt and not reflecting
    return f"Thought: {words(n)}.\nFinal Answer: It is {'1999-01-01' if wrong else '2026-12-01'}."


def script(fake: Any) -> None:
    n = counter()
    fake.script(r"Steps so far", lambda body: react(body, n()))


CASE = Case(script, {"k": 1, "max_steps": 3}, SEEDS)
