"""APIGen: one executable tool (add); each generation asks for new numbers, the checker agrees."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter

ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
    "implementation": "def add(a, b):\n    return {'sum': a + b}\n",
}
GENERATE = r"write training data for function calling"
SEMANTIC = r"Verdict: yes\" or"


def pairs(*calls: tuple[str, dict[str, Any]]) -> str:
    """The generator's JSON: one pair per (query, arguments of add)."""
    return json.dumps(
        {"pairs": [{"query": q, "answers": [{"name": "add", "arguments": a}]} for q, a in calls]}
    )


def script(fake: Any) -> None:
    n = counter()

    def generate(_body: dict[str, Any]) -> str:
        k = n()
        return pairs((f"Add {k} and {k + 1}.", {"a": k, "b": k + 1}))

    fake.script(GENERATE, generate)
    fake.script(SEMANTIC, "The call adds the two numbers asked for.\nVerdict: yes")


CASE = Case(script, {"n_queries": 1, "query_styles": ["simple"]}, json.dumps(ADD).encode())
