"""Where a run's fresh work items come from. Keys are stable, so a resumed run skips done ones.

Items a recipe makes while it runs (`it.spawn`) are queued in the database and served
before fresh ones; a source only names the run's starting work.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from generation.recipes.base import SeedRow


class Source:
    @staticmethod
    def numbered(prefix: str, limit: int | None = None) -> Iterator[tuple[str, int]]:
        """Items prefix:0, prefix:1, … (without limit, the futility rule bounds the run)."""
        counter = itertools.count() if limit is None else iter(range(limit))
        return ((f"{prefix}:{k}", k) for k in counter)

    @staticmethod
    def per_seed(prefix: str, seeds: Sequence[SeedRow]) -> Iterator[tuple[str, SeedRow]]:
        """One item per seed: prefix:<seed id>."""
        return ((f"{prefix}:{s.id}", s) for s in seeds)

    @staticmethod
    def chain(*sources: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        return itertools.chain(*sources)
