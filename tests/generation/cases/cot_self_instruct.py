"""CoT-Self-Instruct: qa seeds; each new problem's K solutions agree with its answer."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()

    def problem(body: dict[str, Any]) -> str:
        n = tick()
        return (
            f"The seeds add numbers.\n<question>\n{words(n, 10)}: what is {n} + 0?\n</question>\n"
            f"<answer>\\boxed{{{n}}}</answer>"
        )

    def solve(body: dict[str, Any]) -> list[str]:
        n = re.search(r"what is (\d+) \+ 0", body["messages"][-1]["content"])
        answer = n.group(1) if n else "?"
        return [
            f"Adding 0 keeps it, way {i}.\n\\boxed{{{answer}}}" for i in range(body.get("n") or 1)
        ]

    fake.script(r"You write new problems", problem)
    fake.script(r"^Solve the problem below", solve)


SEEDS = "\n".join(
    json.dumps({"question": f"What is {n} + {n}? ({words(n, 3)})", "answer": str(2 * n)})
    for n in range(6)
).encode()
CASE = Case(script, {"k": 4}, SEEDS)
