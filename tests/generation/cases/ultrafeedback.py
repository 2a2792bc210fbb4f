"""UltraFeedback: instruction seeds; distinct responses, a judge that rates each text by
its content (the same text gets the same rating under every aspect and order)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words

ASPECT = r"^# (?:Helpfulness|Honesty|Instruction-following|Truthfulness) rating"
_TEXT = re.compile(r"<text (\d+)>\n(.*?)\n</text \1>", re.DOTALL)


def rate_by_content(body: dict[str, Any]) -> str:
    shown = _TEXT.findall(body["messages"][-1]["content"])
    return "\n\n".join(
        f"#### Text {k}\nRating: {1 + sum(map(ord, text)) % 5}\nRationale: Judged by content."
        for k, text in shown
    )


def script(fake: Any) -> None:
    tick = counter()
    fake.script(ASPECT, rate_by_content)
    fake.script(r".", lambda body: f"Reply {words(tick())}.")


SEEDS = "\n".join(
    json.dumps({"instruction": f"Describe the {words(n, 3)} in one sentence.", "output": "x"})
    for n in range(14)
).encode()
CASE = Case(script, {"n_responses": 3, "judge_samples": 2}, SEEDS)
