"""A run's pools for DEDUP-L (ROUGE-L) and DEDUP-E (embedding cosine).

A pool holds what the run has accepted so far, plus what the recipe seeds it with. What a
slice admits is written to `RunPoolEntry` rows in the driver's normal flush (with the
vector, for DEDUP-E), and the next slice loads them back: nothing is recomputed or
re-embedded per slice. Check-and-add has no await in between, so two concurrent items
cannot both slip a near-copy in.

DEDUP-E's default cosine 0.95 follows the GRA row's acceptance test; METHODS.md names the
primitive without a threshold (a declared deviation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generation.embeddings import Embedder, Vectors, local
from generation.recipes.kit.results import Novelty
from generation.rouge import RougeIndex

EXACT = 1.0 - 1e-9  # a ROUGE-L pool threshold that rejects only exact copies (same words, order)


@dataclass
class Admitted:
    """An entry this slice added, waiting for the next flush."""

    pool: str
    key: str
    text: str
    vector: bytes | None = None


class RougePool:
    kind = "rouge"

    def __init__(self, name: str, threshold: float, k: int = 10) -> None:
        self.name, self.threshold, self.k = name, threshold, k
        self.index = RougeIndex()
        self.machine: list[str] = []  # what runs admitted, in order (not the seeded texts)

    def seed(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.index.add(text)

    def load(self, key: str, text: str, vector: bytes | None = None) -> None:
        self.index.add(text)
        self.machine.append(text)

    def admit(self, key: str, text: str, out: list[Admitted]) -> Novelty:
        found = self.index.check(text, threshold=self.threshold, k=self.k)
        novel = found.novel
        if novel:
            self.load(key, text)
            out.append(Admitted(self.name, key, text))
        return Novelty(
            novel=novel,
            score=round(found.max_score, 4),
            nearest=found.most_similar[0][0] if found.most_similar else None,
            most_similar=[[t, round(s, 4)] for t, s in found.most_similar],
        )


@dataclass
class EmbeddingPool:
    name: str
    threshold: float
    embedder: Embedder | None = None
    keys: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    _rows: list[Vectors] = field(default_factory=list)
    _matrix: Vectors | None = None
    kind = "embedding"

    def _embedder(self) -> Embedder:
        if self.embedder is None:
            self.embedder = local()
        return self.embedder

    async def seed(self, keys: list[str], texts: list[str]) -> None:
        """Texts the recipe puts in the pool at the start of each slice (not persisted)."""
        if texts:
            vectors = await asyncio.to_thread(self._embedder().encode, texts)
            for key, text, vector in zip(keys, texts, vectors, strict=True):
                self._add(key, text, vector)

    def load(self, key: str, text: str, vector: bytes | None = None) -> None:
        if vector is not None:
            self._add(key, text, np.frombuffer(vector, dtype=np.float32))

    async def admit(self, key: str, text: str, out: list[Admitted]) -> Novelty:
        vector = (await asyncio.to_thread(self._embedder().encode, [text]))[0]
        # No await from here on: the check and the add are one atomic step.
        nearest, score = self._nearest(vector)
        novel = score < self.threshold
        if novel:
            self._add(key, text, vector)
            out.append(Admitted(self.name, key, text, np.asarray(vector, np.float32).tobytes()))
        return Novelty(novel=novel, score=score, nearest=nearest)

    def _nearest(self, vector: Vectors) -> tuple[str | None, float]:
        if not self.keys:
            return None, 0.0
        if self._matrix is None:
            self._matrix = np.vstack(self._rows)
        sims = self._matrix @ vector
        best = int(np.argmax(sims))
        return self.keys[best], round(float(sims[best]), 4)

    def _add(self, key: str, text: str, vector: Any) -> None:
        self.keys.append(key)
        self.texts.append(text)
        self._rows.append(np.asarray(vector, dtype=np.float32))
        self._matrix = None


Pool = RougePool | EmbeddingPool
