"""STaR: qa seeds; the first greedy answer is wrong, the hinted one right (two steps an item)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, words

QUESTIONS = [(f"How many letters are in: {words(n, 3)}?", str(len(words(n, 3)))) for n in range(14)]
_HINT = re.compile(r"\(Hint: the answer is (\d+)\.\)\nA:\s*$")


def script(fake: Any) -> None:
    def reply(body: dict[str, Any]) -> str:
        hint = _HINT.search(body["messages"][-1]["content"])
        if hint is None:
            return "Counting them one by one.\nThe answer is 0."
        return f"Counting gives {hint.group(1)} letters.\nThe answer is {hint.group(1)}."

    fake.script(r"\nA:\s*$", reply)


SEEDS = "\n".join(json.dumps({"question": q, "answer": a}) for q, a in QUESTIONS).encode()
CASE = Case(script, {"exemplars": 2}, SEEDS)
