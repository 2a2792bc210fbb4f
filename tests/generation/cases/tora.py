"""ToRA: qa seeds; each reply runs one Python block, the next boxes what it printed."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, words

QUESTIONS = [(f"How many letters are in: {words(n, 3)}?", len(words(n, 3))) for n in range(14)]
_OUTPUT = re.compile(r"^```output\n(.*)\n```$", re.DOTALL)


def script(fake: Any) -> None:
    def reply(body: dict[str, Any]) -> str:
        out = _OUTPUT.match(body["messages"][-1]["content"])
        if out is not None:
            return f"It prints {out.group(1)}, so the answer is \\boxed{{{out.group(1)}}}."
        phrase = body["messages"][0]["content"].rsplit("letters are in: ", 1)[1].split("?")[0]
        return f"Count them.\n```python\nprint(len({phrase!r}))\n```"

    fake.script(r"Solution:\s*$|^```output", reply)


SEEDS = "\n".join(json.dumps({"question": q, "answer": str(a)}) for q, a in QUESTIONS).encode()
CASE = Case(script, {"samples": 0}, SEEDS)
