"""PC Agent-E: the demo GUI trajectories; thoughts differ call by call, and each
alternative clicks an element of the tree its prompt shows (at a human finish() step the
alternatives are dropped, since they do not finish)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.generation.cases import Case, counter, words

SEEDS = (Path(__file__).parents[3] / "curation/demo/data/gui_trajectories.jsonl").read_bytes()
THOUGHT = r"Write the thinking that led you to this action"
BOOST = r"Choose the next single action"
_TREE = re.compile(r"accessibility tree:\n(.*?)\n\n", re.S)


def tree_ids(prompt: str) -> list[str]:
    """The element ids of the tree a prompt shows."""
    found = _TREE.search(prompt)
    return re.findall(r"\[([\w.:-]+)\]", found.group(1)) if found else []


def script(fake: Any) -> None:
    count = counter()

    def thought(_body: dict[str, Any]) -> str:
        return f"I can see the window I need, so I act on {words(count(), 6)} next."

    def boost(body: dict[str, Any]) -> list[str]:
        ids = tree_ids(body["messages"][-1]["content"]) or ["1"]
        replies = []
        for _ in range(int(body.get("n") or 1)):
            n = count()
            replies.append(
                f"Thought: Another way on is to open {words(n, 5)}.\n"
                f"Action: click([{ids[n % len(ids)]}])"
            )
        return replies

    fake.script(THOUGHT, thought)
    fake.script(BOOST, boost)


CASE = Case(script, {"alternatives": 2, "max_tokens": 200}, SEEDS)
