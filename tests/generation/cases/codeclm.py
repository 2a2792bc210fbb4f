"""CodecLM: six seeds encoded, two instructions each, kept after one Self-Rubrics round."""

from __future__ import annotations

import json
from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()
    fake.script(
        r"^Describe the instruction below by its metadata",
        lambda body: json.dumps({"use_case": "everyday help", "skills": words(tick(), 3).split()}),
    )
    fake.script(r"^Write one new instruction", lambda body: f"Plan a {words(tick(), 3)} trip.")
    fake.script(r"^Use case: ", "Rubrics:\n- realism\nActions:\n- Add a firm budget limit")
    fake.script(r"^Improve the instruction below", lambda body: f"Plan {words(tick(), 4)} trip.")
    fake.script(r"^Rate how well the response", "Solid.\nScore: 8")
    fake.script(r"trip\.\s*$", lambda body: f"Day one: {words(tick())}.")


# With one endpoint both answers come from the same model: gap 0 keeps a tie.
CASE = Case(script, {"gap": 0.0, "rubric_rounds": 1})
