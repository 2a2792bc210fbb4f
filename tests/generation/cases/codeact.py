"""CodeAct: qa seeds; the agent runs one cell, then proposes what it printed."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, words

QUESTIONS = [(f"How many letters are in: {words(n, 3)}?", len(words(n, 3))) for n in range(14)]
_SEEN = re.compile(r"^Observation:\n(.*?)\nYou have", re.DOTALL)


def script(fake: Any) -> None:
    def reply(body: dict[str, Any]) -> str:
        seen = _SEEN.match(body["messages"][-1]["content"])
        if seen is not None:
            return f"It printed {seen.group(1)}. <solution> {seen.group(1)} </solution>"
        phrase = body["messages"][0]["content"].rsplit("letters are in: ", 1)[1].split("?")[0]
        return f"I count them. <execute>print(len({phrase!r}))</execute>"

    fake.script(r"Task: |^Observation:", reply)


SEEDS = "\n".join(json.dumps({"question": q, "answer": str(a)}) for q, a in QUESTIONS).encode()
CASE = Case(script, {}, SEEDS)
