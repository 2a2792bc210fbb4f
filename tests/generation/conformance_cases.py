"""The conformance cases of the first four recipes, and the collector of all cases.

Newer recipes keep their case in `tests/generation/cases/<recipe_id>.py` (see that
package's docstring); this module gathers them into CASES.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

from tests.generation import cases
from tests.generation.cases import WORDS, Case, counter, words

__all__ = ["CASES", "WORDS", "Case", "templates_named_in"]


def self_instruct(fake: Any) -> None:
    tick = counter()

    def generate(body: dict[str, Any]) -> str:
        n = tick()
        return "\n".join(f"{9 + i}. Describe the custom of {words(n * 10 + i)}." for i in range(3))

    fake.script(r"Come up with a series of new tasks", generate)
    fake.script(r"Is it classification\?\s*$", "No")
    fake.script(
        r"Come up with examples for the task below",
        lambda body: f"Example 1\nInput: <noinput>\nOutput: It is {words(tick())}.",
    )


def evol_instruct(fake: Any) -> None:
    tick = counter()
    fake.script(r"^Here are two instructions", "Not Equal")
    fake.script(
        r"Original:\n<<<",
        lambda body: f"Explain in steps how {words(tick(), 6)} shape a landscape.",
    )
    fake.script(r"shape a landscape\.\s*$", lambda body: f"They work by {words(tick())}.")


def self_rewarding(fake: Any) -> None:
    tick = counter()
    fake.script(r"additive 5-point", lambda body: f"Score: {tick() % 6}")
    fake.script(r"Come up with a series of tasks", lambda body: f"Explain {words(tick(), 6)}.")
    fake.script(
        r"^Explain ",
        lambda body: [f"Answer {words(tick())}." for _ in range(body.get("n") or 1)],
    )


def constitutional_ai(fake: Any) -> None:
    tick = counter()
    fake.script(r"Critique request: .*\nCritique:\s*$", lambda body: f"Critique {tick()}.")
    fake.script(r"Revised reply:\s*$", lambda body: f"Revised {words(tick())}.")
    fake.script(r"The answer is: \($|Answer: \(A\)\" or", "A")
    fake.script(
        r"^Tell me|^Write|^Classify|^Convert|^Summarise|^Give|^Explain",
        lambda body: [f"Reply {words(tick())}." for _ in range(body.get("n") or 1)],
    )


CASES: dict[str, Case] = {
    "self_instruct": Case(self_instruct),
    "evol_instruct": Case(evol_instruct, {"rounds": 2}),
    "self_rewarding": Case(self_rewarding, {"n_responses": 2, "judge_samples": 1}),
    "constitutional_ai": Case(constitutional_ai, {"n_revisions": 2}),
}
for _module in pkgutil.iter_modules(cases.__path__):
    CASES[_module.name] = importlib.import_module(f"{cases.__name__}.{_module.name}").CASE


def templates_named_in(source: str) -> set[str]:
    """Template names a recipe module renders: it.gen("x"), it.judge("x"), prompts["x"]."""
    names = set(re.findall(r"\.(?:gen|judge|pairj)\(\s*\"([a-z0-9_]+)\"", source))
    names |= set(re.findall(r"prompts\[\s*(?:f?)\"([a-z0-9_]+)\"\s*\]", source))
    for a, b in re.findall(r"\"([a-z0-9_]+)\" if [^\n]*? else \"([a-z0-9_]+)\"", source):
        names |= {a, b}
    return names
