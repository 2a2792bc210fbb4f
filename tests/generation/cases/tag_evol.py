"""Tag-Evol: six seeds tagged in one tag item, then rewrites at budgets 1 and 2 that pass."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words

_TAGS = re.compile(r"^- (.+)$", re.M)
_NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.M)
_INSTRUCTION = re.compile(r"<<<\n(.*?)\n>>>", re.S)


def judge(body: dict[str, Any]) -> str:
    """Yes for every numbered tag the instruction names; always solvable."""
    text = body["messages"][-1]["content"]
    instruction = _INSTRUCTION.search(text).group(1)
    lines = [f"{i}: {'yes' if t in instruction else 'no'}" for i, t in _NUMBERED.findall(text)]
    return "\n".join([*lines, "Solvable: yes"])


def script(fake: Any) -> None:
    tick = counter()
    fake.script(
        r"^List the fine-grained knowledge tags",
        lambda body: json.dumps([words(tick(), 2) for _ in range(4)]),
    )

    def rewrite(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        needed = _TAGS.findall(text)
        seed = _INSTRUCTION.search(text).group(1)
        return f"{seed} Use {', '.join(needed)} ({words(tick(), 3)}). [evolved]"

    fake.script(r"^Rewrite the instruction below into a harder one", rewrite)
    fake.script(r"^Check a rewritten instruction", judge)
    fake.script(r"\[evolved\]\s*$", lambda body: f"Answer: {words(tick())}.")


CASE = Case(script, {"budgets": [1, 2]})
