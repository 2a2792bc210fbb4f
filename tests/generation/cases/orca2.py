"""Orca 2: qa seeds; step by step misses, the next strategy hits (two steps an item)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case

QUESTIONS = [(f"What is {n} plus {n + 7}?", str(2 * n + 7)) for n in range(14)]
_SUM = re.compile(r"What is (\d+) plus (\d+)\?")


def script(fake: Any) -> None:
    def reply(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        a, b = map(int, _SUM.search(body["messages"][-1]["content"]).groups())
        if "one small step per line" in system:
            return "Adding them up in my head.\nThe answer is: 0"
        return f"Recall: addition combines amounts. {a} + {b} = {a + b}.\nThe answer is: {a + b}"

    fake.script(r"^What is \d+ plus \d+\?$", reply)


SEEDS = "\n".join(json.dumps({"question": q, "answer": a}) for q, a in QUESTIONS).encode()
CASE = Case(script, {}, SEEDS)
