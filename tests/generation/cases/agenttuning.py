"""AgentTuning's conformance case: phone-world and database tasks that a two-step ReAct
trajectory solves (one action, then the answer); thoughts differ call by call."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words

CALENDAR = "CREATE TABLE calendar (year INT); INSERT INTO calendar VALUES (2026);"
TASKS = [
    {"env": "world", "task": {"question": f"What is today's date? ({n})",
                              "milestones": [{"call": "get_current_date"},
                                             {"answer_contains": "2026-12-01"}]}}
    for n in range(3)
] + [
    {"env": "sqlite", "task": {"setup_sql": CALENDAR, "question": f"Which year is it? ({n})",
                               "gold_sql": "SELECT year FROM calendar"}}
    for n in range(2)
]  # fmt: skip
SEEDS = "".join(json.dumps(t) + "\n" for t in TASKS).encode()


def react(body: dict[str, Any], n: int) -> str:
    prompt = body["messages"][-1]["content"]
    sql = "execute_sql(" in prompt
    if "(none yet)" in prompt:
        action = (
            ("execute_sql", '{"sql": "SELECT year FROM calendar"}')
            if sql
            else ("get_current_date", "{}")
        )
        return f"Thought: {words(n)}.\nAction: {action[0]}\nAction Input: {action[1]}"
    return f"Thought: {words(n)}.\nFinal Answer: {'2026' if sql else 'It is 2026-12-01.'}"


def script(fake: Any) -> None:
    n = counter()
    fake.script(r"Steps so far", lambda body: react(body, n()))


CASE = Case(script, {"max_steps": 3}, SEEDS)
