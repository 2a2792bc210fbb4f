"""Meta-Rewarding: twelve prompts, two answers each, two judgements that always disagree, and
a meta-judge that prefers the higher score in either order (so every item gives two pairs)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words

_JUDGMENT = re.compile(r"\((A|B)\) <judgment>(.*?)</judgment>", re.S)
_SCORE = re.compile(r"Score: (\d+)")


def script(fake: Any) -> None:
    tick = counter()

    def meta(body: dict[str, Any]) -> str:
        found = dict(_JUDGMENT.findall(body["messages"][-1]["content"]))
        a, b = (int(m.group(1)) if (m := _SCORE.search(found.get(k, ""))) else 0 for k in "AB")
        return "A reads the rubric better.\nAnswer: (A)" if a > b else "Answer: (B)"

    fake.script(r"^You check the work of judges", meta)
    fake.script(
        r"additive 5-point",
        lambda body: [f"Point by point.\nScore: {tick() % 6}" for _ in range(body.get("n") or 1)],
    )
    fake.script(
        r"^Describe the ",
        lambda body: [f"Answer {words(tick())}." for _ in range(body.get("n") or 1)],
    )


SEEDS = "\n".join(
    json.dumps({"instruction": f"Describe the {words(n, 2)} of a harbour.", "output": "x"})
    for n in range(12)
).encode()
CASE = Case(script, {"n_responses": 2, "judge_samples": 2}, SEEDS)
