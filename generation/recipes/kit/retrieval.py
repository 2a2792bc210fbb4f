"""RET over the project's own documents (seed kind "document"), never the web.

The run's document seeds are cut into passages of about `words` words (paragraphs packed
together, long ones windowed with an overlap) and indexed with Okapi BM25 (k1 1.5, b 0.75)
in `setup`: lexical, dependency-free, and the same every slice, so a replayed item finds
the same passages. Each passage carries a source id ("doc:<seed id>#<n>") with the
document's title and source, for a sample's extra to cite.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from generation.recipes.base import SeedRow

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be been but by can did do does for from had has have he her his how i "
    "if in into is it its of on or our she so than that the their them then there these they "
    "this to was we were what when where which who why will with you your".split()
)


def tokens(text: str) -> list[str]:
    """Lower-cased words without stop words; a plural "s" goes, so "cells" finds "cell"."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


@dataclass(frozen=True)
class Passage:
    id: str  # "doc:<seed id>#<n>"
    seed_id: int
    title: str
    source: str
    text: str
    score: float = 0.0

    def cite(self) -> dict[str, Any]:
        """What a sample's extra keeps of a passage it was checked against."""
        return {k: v for k, v in asdict(self).items() if k != "text"} | {"text": self.text[:500]}


def chunk(text: str, words: int = 120, overlap: int = 20) -> list[str]:
    """Paragraphs packed up to `words` words; a longer paragraph in overlapping windows."""
    pieces: list[str] = []
    current: list[str] = []
    for para in (p.split() for p in re.split(r"\n\s*\n", text)):
        if not para:
            continue
        if len(para) > words:
            if current:
                pieces.append(" ".join(current))
                current = []
            step = max(1, words - overlap)
            for start in range(0, len(para), step):
                pieces.append(" ".join(para[start : start + words]))
                if start + words >= len(para):
                    break
            continue
        if current and len(current) + len(para) > words:
            pieces.append(" ".join(current))
            current = []
        current.extend(para)
    if current:
        pieces.append(" ".join(current))
    return pieces


def passages(seeds: Iterable[SeedRow], words: int = 120, overlap: int = 20) -> list[Passage]:
    """The passages of the document seeds among `seeds` (other kinds are left out)."""
    out = []
    for seed in seeds:
        if seed.kind != "document":
            continue
        payload = seed.payload
        text = str(payload.get("text") or seed.text)
        title, source = str(payload.get("title") or ""), str(payload.get("source") or "")
        for n, piece in enumerate(chunk(text, words, overlap)):
            out.append(Passage(f"doc:{seed.id}#{n}", seed.id, title, source, piece))
    return out


class Index:
    """BM25 over passages. The title counts as part of each of its passages."""

    def __init__(self, items: Sequence[Passage], k1: float = 1.5, b: float = 0.75) -> None:
        self.passages = list(items)
        self.k1, self.b = k1, b
        self._terms = [Counter(tokens(f"{p.title} {p.text}")) for p in self.passages]
        self._lengths = [sum(t.values()) for t in self._terms]
        self._avg = sum(self._lengths) / len(self._lengths) if self._lengths else 0.0
        df: Counter[str] = Counter()
        for terms in self._terms:
            df.update(terms.keys())
        n = len(self.passages)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    @classmethod
    def from_seeds(cls, seeds: Iterable[SeedRow], words: int = 120, overlap: int = 20) -> Index:
        return cls(passages(seeds, words, overlap))

    def __len__(self) -> int:
        return len(self.passages)

    def search(self, query: str, k: int = 3) -> list[Passage]:
        """The k best passages with a score above 0, best first (ties: document order)."""
        wanted = set(tokens(query))
        scored = []
        for i, terms in enumerate(self._terms):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * self._lengths[i] / (self._avg or 1.0))
            for term in wanted & terms.keys():
                tf = terms[term]
                score += self._idf[term] * tf * (self.k1 + 1) / (tf + norm)
            if score > 0:
                scored.append((-score, i))
        scored.sort()
        return [replace(self.passages[i], score=round(-s, 4)) for s, i in scored[:k]]


def context(found: Sequence[Passage]) -> str:
    """Passages for a prompt, each headed by its source id."""
    return "\n\n".join(f"[{p.id}] {p.title + ': ' if p.title else ''}{p.text}" for p in found)
