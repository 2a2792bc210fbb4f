"""One case per registered recipe for the conformance kit (test_conformance.py).

A case scripts the fake endpoint so that the recipe's outputs are usable and distinct,
names the seeds it reads and small params. Registering a recipe without a case here makes
the kit fail: every recipe is under test.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WORDS = (
    "amber basalt cobalt dune ember fjord glacier harbor island jungle kelp lagoon meadow "
    "nebula orchard prairie quarry reef savanna tundra umber valley willow xylem yarrow zephyr "
    "anvil bellows chisel drill easel forge gimlet hammer ingot jigsaw kiln lathe mallet "
    "needle oar pliers quill rasp saw trowel vise wrench yoke zither"
).split()


def _counter() -> Callable[[], int]:
    count = itertools.count(1)
    return lambda: next(count)


def _words(n: int, k: int = 8) -> str:
    return " ".join(random.Random(n).sample(WORDS, k))


def self_instruct(fake: Any) -> None:
    tick = _counter()

    def generate(body: dict[str, Any]) -> str:
        n = tick()
        return "\n".join(f"{9 + i}. Describe the custom of {_words(n * 10 + i)}." for i in range(3))

    fake.script(r"Come up with a series of new tasks", generate)
    fake.script(r"Is it classification\?\s*$", "No")
    fake.script(
        r"Come up with examples for the task below",
        lambda body: f"Example 1\nInput: <noinput>\nOutput: It is {_words(tick())}.",
    )


def evol_instruct(fake: Any) -> None:
    tick = _counter()
    fake.script(r"^Here are two instructions", "Not Equal")
    fake.script(
        r"Original:\n<<<",
        lambda body: f"Explain in steps how {_words(tick(), 6)} shape a landscape.",
    )
    fake.script(r"shape a landscape\.\s*$", lambda body: f"They work by {_words(tick())}.")


def self_rewarding(fake: Any) -> None:
    tick = _counter()
    fake.script(r"additive 5-point", lambda body: f"Score: {tick() % 6}")
    fake.script(r"Come up with a series of tasks", lambda body: f"Explain {_words(tick(), 6)}.")
    fake.script(
        r"^Explain ",
        lambda body: [f"Answer {_words(tick())}." for _ in range(body.get("n") or 1)],
    )


def constitutional_ai(fake: Any) -> None:
    tick = _counter()
    fake.script(r"Critique request: .*\nCritique:\s*$", lambda body: f"Critique {tick()}.")
    fake.script(r"Revised reply:\s*$", lambda body: f"Revised {_words(tick())}.")
    fake.script(r"The answer is: \($|Answer: \(A\)\" or", "A")
    fake.script(
        r"^Tell me|^Write|^Classify|^Convert|^Summarise|^Give|^Explain",
        lambda body: [f"Reply {_words(tick())}." for _ in range(body.get("n") or 1)],
    )


@dataclass(frozen=True)
class Case:
    script: Callable[[Any], None]
    params: dict[str, Any] = field(default_factory=dict)
    seeds: bytes | None = None  # None: the bench's six instruction seeds


CASES: dict[str, Case] = {
    "self_instruct": Case(self_instruct),
    "evol_instruct": Case(evol_instruct, {"rounds": 2}),
    "self_rewarding": Case(self_rewarding, {"n_responses": 2, "judge_samples": 1}),
    "constitutional_ai": Case(constitutional_ai, {"n_revisions": 2}),
}


def templates_named_in(source: str) -> set[str]:
    """Template names a recipe module renders: it.gen("x"), it.judge("x"), prompts["x"]."""
    names = set(re.findall(r"\.(?:gen|judge|pairj)\(\s*\"([a-z0-9_]+)\"", source))
    names |= set(re.findall(r"prompts\[\s*(?:f?)\"([a-z0-9_]+)\"\s*\]", source))
    for a, b in re.findall(r"\"([a-z0-9_]+)\" if [^\n]*? else \"([a-z0-9_]+)\"", source):
        names |= {a, b}
    return names
