"""Conformance cases, one module per recipe: `tests/generation/cases/<recipe_id>.py`.

Each module defines `CASE = Case(...)`: it scripts the fake endpoint so that the recipe's
outputs are usable and distinct, names the seeds it reads and small params. The conformance
kit (test_conformance.py) collects them; a registered recipe without a case fails it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WORDS = (
    "amber basalt cobalt dune ember fjord glacier harbor island jungle kelp lagoon meadow "
    "nebula orchard prairie quarry reef savanna tundra umber valley willow xylem yarrow zephyr "
    "anvil bellows chisel drill easel forge gimlet hammer ingot jigsaw kiln lathe mallet "
    "needle oar pliers quill rasp saw trowel vise wrench yoke zither"
).split()


def counter() -> Callable[[], int]:
    """1, 2, 3, … : scripted replies that differ call by call."""
    count = itertools.count(1)
    return lambda: next(count)


def words(n: int, k: int = 8) -> str:
    """k words picked by n: distinct texts that ROUGE-L and dedup take as different."""
    return " ".join(random.Random(n).sample(WORDS, k))


@dataclass(frozen=True)
class Case:
    script: Callable[[Any], None]
    params: dict[str, Any] = field(default_factory=dict)
    seeds: bytes | None = None  # None: the bench's six instruction seeds (JSONL bytes else)
