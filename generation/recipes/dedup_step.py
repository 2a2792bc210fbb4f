"""DEDUP-E (METHODS.md §0.1): embedding cosine dedup of a run's pool, as a recipe step.

The step keeps the unit vectors of what the run has accepted so far; a new text whose
cosine similarity to any of them reaches the threshold is dropped (a filtered item, like
any other elimination) or flagged (kept, with `extra["dedup_e"]` naming the nearest text).
It uses the local MiniLM (generation/embeddings.py) and never the database: the pool is
rebuilt from the run's stored samples at the start of each slice.

Deviation: METHODS.md names the primitive without a threshold; the default 0.95 follows
the GRA row's acceptance test ("two items with cosine > 0.95 -> one removed"). The
project-wide near-duplicate review (generation/dedup) runs after generation as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from generation.embeddings import Embedder, Vectors, local

MODES = ("off", "flag", "drop")


@dataclass(frozen=True)
class Verdict:
    duplicate: bool
    nearest: str | None  # the key of the nearest pool text
    similarity: float


class EmbeddingDedup:
    def __init__(self, threshold: float, embedder: Embedder | None = None) -> None:
        self.threshold = threshold
        self._embedder = embedder
        self.keys: list[str] = []
        self._rows: list[Vectors] = []
        self._matrix: Vectors | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = local()
        return self._embedder

    async def seed(self, keys: Sequence[str], texts: Sequence[str]) -> None:
        """Put texts already accepted (earlier slices) into the pool, without checking."""
        if texts:
            vectors = await asyncio.to_thread(self.embedder.encode, list(texts))
            for key, vector in zip(keys, vectors, strict=True):
                self._add(key, vector)

    async def admit(self, key: str, text: str) -> Verdict:
        """Compare with the pool; a text that is not a duplicate joins it."""
        vector = (await asyncio.to_thread(self.embedder.encode, [text]))[0]
        # No await between the check and the add: concurrent items cannot both slip in.
        verdict = self.check(vector)
        if not verdict.duplicate:
            self._add(key, vector)
        return verdict

    def check(self, vector: Vectors) -> Verdict:
        if not self.keys:
            return Verdict(False, None, 0.0)
        if self._matrix is None:
            self._matrix = np.vstack(self._rows)
        sims = self._matrix @ vector
        best = int(np.argmax(sims))
        similarity = round(float(sims[best]), 4)
        return Verdict(similarity >= self.threshold, self.keys[best], similarity)

    def _add(self, key: str, vector: Vectors) -> None:
        self.keys.append(key)
        self._rows.append(np.asarray(vector, dtype=np.float32))
        self._matrix = None
