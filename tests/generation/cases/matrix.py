"""MATRIX: eight persona seeds; goals, actions and instructions that differ call by call, a
modulator that names someone in another group, and a judge that finds them grounded."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter, words

JOBS = ("nurse", "baker", "teacher", "coder", "farmer", "cyclist", "painter", "plumber")


def route(body: dict[str, Any]) -> str:
    """Notify the first person of another group, or of the actor's own group."""
    text = body["messages"][-1]["content"]
    others = re.search(r"People in other groups: group \d+: ([^,;\n]+)", text)
    own = re.search(r"People in your group: ([^,\n]+)", text)
    return f"Notify: {(others or own).group(1).strip()}"  # type: ignore[union-attr]


def script(fake: Any) -> None:
    tick = counter()
    fake.script(r"^Here is the profile", lambda body: f"To master {words(tick(), 3)}.")
    fake.script(r"^You are the modulator", route)
    fake.script(r"^You are \w+, a person", lambda body: f"I ask about {words(tick(), 5)}.")
    fake.script(r"^Below is a scenario", lambda body: f"Help me plan {words(tick())} this week.")
    fake.script(r"^Judge whether the request", "Grounded in the scenario. Score: 4")


SEEDS = "\n".join(
    json.dumps({"name": f"P{n}", "persona": f"A {job} who likes {words(n, 3)}."})
    for n, job in enumerate(JOBS)
).encode()
CASE = Case(script, {"n_agents": 4, "rounds": 2, "group_size": 2}, SEEDS)
