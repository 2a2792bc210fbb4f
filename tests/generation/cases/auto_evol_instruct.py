"""Auto Evol-Instruct: one optimize item (one iteration, two candidates) spawns 12 evolutions."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words

_INSTRUCTION = re.compile(r"#Instruction#:\n(.*?)\n\nAnswer with every step", re.S)


def evolved_answer(instruction: str, extra: str) -> str:
    return (
        "Step 1: #Methods List#\n- add a constraint\n"
        "Step 2: #Plan#\nAdd one constraint.\n"
        "Step 3: #Rewritten Instruction#\n(draft)\n"
        f"Step 4: #Finally Rewritten Instruction#\n{instruction} Use {extra} and shape it."
    )


def method(n: int) -> str:
    return (
        f"Step 1: #Methods List#\nList ways to add {words(n, 3)}.\n"
        "Step 2: #Plan#\nPick two of them.\n"
        "Step 3: #Finally Rewritten Instruction#\nGive the rewrite only."
    )


def script(fake: Any) -> None:
    tick = counter()

    def evolve(body: dict[str, Any]) -> str:
        found = _INSTRUCTION.search(body["messages"][-1]["content"])
        return evolved_answer(found.group(1) if found else "Do it.", words(tick(), 4))

    fake.script(r"^You rewrite an instruction", evolve)
    fake.script(r"^Below is how one instruction changed", "- Round 1 adds little.")
    fake.script(
        r"^You improve a method",
        lambda body: [method(tick()) for _ in range(body.get("n") or 1)],
    )
    fake.script(r"shape it\.\s*$", lambda body: f"Here is how: {words(tick())}.")


SEEDS = "\n".join(
    json.dumps({"instruction": f"Describe the {words(n, 2)} of a harbour.", "output": "x"})
    for n in range(12)
).encode()
PARAMS = {"optimize_steps": 1, "mini_batch": 2, "evolve_steps": 1, "n_methods": 2, "dev_size": 2}
CASE = Case(script, PARAMS, SEEDS)
