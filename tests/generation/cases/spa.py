"""SPA (approximation): the bench has one endpoint, so aligned and reference are one model and
the judge labels every pair (the fallback); it prefers the same response in both orders."""

from __future__ import annotations

from typing import Any

from tests.generation.cases import Case, counter, words


def script(fake: Any) -> None:
    tick = counter()

    def judge(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        a, b = (text.split(f"({x}) <reply>")[1].split("</reply>")[0] for x in "AB")
        return "A" if a > b else "B"  # the same reply wins whichever slot it is in

    fake.script(r"^Below are a user's request", judge)
    fake.script(r".", lambda body: [f"Sure: {words(tick())}.", f"Well: {words(tick())}."])


CASE = Case(script)
