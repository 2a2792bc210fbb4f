"""CAMEL: the specifier makes each idea specific, then the user instructs twice and ends with
the done token on its third turn: six calls an item, longer than a 0.5 s slice at 0.25 s."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words

DONE_AT = 3  # the user's turn that says <CAMEL_TASK_DONE>


def own_turns(body: dict[str, Any]) -> int:
    """How many turns this agent has had: its own turns come back as the assistant's."""
    return sum(m["role"] == "assistant" for m in body["messages"])


def script(fake: Any) -> None:
    tick = counter()

    def turn(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        if "you always instruct me" in system:
            if own_turns(body) + 1 == DONE_AT:
                return "<CAMEL_TASK_DONE>"
            return f"Instruction: describe the {words(tick(), 5)}.\nInput: None"
        return f"Solution: the {words(tick())} are ready. Next request."

    fake.script(r"Rewrite the task so that it is concrete", lambda b: f"Plan {words(tick())}.")
    fake.script(r".", turn)


# Six seeds times two pairs: twelve conversations, enough for the conformance kit's ten.
PAIRS = ["Python Programmer | Stock Trader", "Chef | Food Blogger"]
CASE = Case(script, {"max_messages": 10, "role_pairs": PAIRS})
