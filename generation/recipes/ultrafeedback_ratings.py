"""UltraFeedback's ratings: one judge reply per aspect rates every text it was shown.

A reply is read per text: a header ("#### Text 2", "Output for Text 2", "<text 2>",
"**Response 2**") opens the text's section, and its first "Rating: N" (1-5, or N/A where
the aspect allows it; a bare number right after the header also counts) and "Rationale: ..."
are the text's. Without headers, the replies'
"Rating:" lines are taken in order, but only when there is exactly one per text. A text
whose rating cannot be read gets none from that reply; a reply that rates no text is
unreadable (the recipe counts it). Everything here is untrusted model output.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.recipes.kit import confidence

ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")
NOT_APPLICABLE = frozenset({"honesty"})  # the paper's honesty rubric has N/A (creative writing)
LOW, HIGH = 1.0, 5.0
RATIONALE_CHARS = 600

_HEADER = re.compile(
    r"^[#*<\[(_ \t-]*(?:output\s+for\s+)?(?:text|response)[^\S\n]*#?[^\S\n]*(\d{1,2})\b"
    r"(?![.,]\d)",
    re.IGNORECASE | re.MULTILINE,
)
_RATING = re.compile(
    r"\brating\b[^\S\n]*(?:\([^)\n]{0,24}\)|for\s+(?:text|response)\s*\d+)?"
    r"[*:=\-–\[( \t]{0,10}(n/?a\b|\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_BARE = re.compile(
    r"[^\S\n]*[*:=\-–—)\]>]*[^\S\n]*\**(n/?a\b|\d(?:\.\d+)?)(?=\s*(?:/\s*5|\W|$))", re.I
)
_AFTER_RATING = re.compile(r"^(?:\s*/\s*5)?[\s*.:)\]\-–—]*")
_RATIONALE = re.compile(r"\brationale\b[^\S\n]*[:\-–]?[^\S\n]*\**[^\S\n]*", re.IGNORECASE)


@dataclass(frozen=True)
class Rated:
    """One text's rating in one reply: a number 1-5, or None for N/A."""

    rating: float | None
    rationale: str


def _rating(section: str, aspect: str, headed: bool = False) -> Rated | None:
    found = _RATING.search(section)
    if found is None and headed:  # "Text 2: 4/5 - vague" (small judges drop the label)
        found = _BARE.match(section)
    if found is None:
        return None
    raw = found.group(1).lower()
    rest = section[found.end() :]
    note = _RATIONALE.search(rest)
    # Without a "Rationale:" label, what follows the rating ("4/5 - fine") is the rationale.
    rationale = rest[note.end() :] if note else _AFTER_RATING.sub("", rest)
    rationale = rationale.strip().split("\n\n")[0].strip()[:RATIONALE_CHARS]
    if raw.startswith("n"):
        return Rated(None, rationale) if aspect in NOT_APPLICABLE else None
    value = float(raw)
    return Rated(value, rationale) if LOW <= value <= HIGH else None


def read_reply(text: str, count: int, aspect: str) -> list[Rated | None]:
    """The rating of each of `count` texts (in the order shown) in one judge reply."""
    got: list[Rated | None] = [None] * count
    headers = [m for m in _HEADER.finditer(text) if 1 <= int(m.group(1)) <= count]
    for k, header in enumerate(headers):
        end = headers[k + 1].start() if k + 1 < len(headers) else len(text)
        index = int(header.group(1)) - 1
        if got[index] is None:  # "Text 2 is weaker ..." in a rationale opens no new rating
            got[index] = _rating(text[header.end() : end], aspect, headed=True)
    if not any(got):
        lines = [m.start() for m in _RATING.finditer(text)]
        if len(lines) == count:
            bounds = [*lines[1:], len(text)]
            got = [_rating(text[a:b], aspect) for a, b in zip(lines, bounds, strict=True)]
    return got


@dataclass
class Ratings:
    """What the judge said about one response: per aspect, the ratings of its samples
    (numbers only), how many said N/A, and the first rationale."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ASPECTS})
    not_applicable: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ASPECTS, 0))
    rationales: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ASPECTS, ""))

    def add(self, aspect: str, rated: Rated) -> None:
        if rated.rating is None:
            self.not_applicable[aspect] += 1
        else:
            self.samples[aspect].append(rated.rating)
        if not self.rationales[aspect]:
            self.rationales[aspect] = rated.rationale

    def aspect(self, name: str) -> float | None:
        """The aspect's rating: the mean of its samples; None if none was a number."""
        values = self.samples[name]
        return round(statistics.fmean(values), 4) if values else None

    def covered(self) -> int:
        """Aspects with a rating, counting an honesty N/A as one."""
        return sum(1 for a in ASPECTS if self.samples[a] or self.not_applicable[a])

    def overall(self, min_aspects: int = len(ASPECTS)) -> float | None:
        """The mean of the aspect ratings (N/A left out), if `min_aspects` are covered."""
        rated = [v for v in (self.aspect(a) for a in ASPECTS) if v is not None]
        if not rated or self.covered() < min_aspects:
            return None
        return round(statistics.fmean(rated), 4)

    def draws(self) -> list[float]:
        """Overall scores sample by sample: the k-th sample of every aspect, averaged."""
        depth = max(len(v) for v in self.samples.values())
        out = []
        for k in range(depth):
            row = [v[k] for v in self.samples.values() if len(v) > k]
            out.append(statistics.fmean(row))
        return out

    def confidence(self, name: str | None = None) -> float | None:
        """1 − the spread of one aspect's samples (or of the overall draws), on 1-5."""
        values = self.samples[name] if name else self.draws()
        return confidence.of_samples(values, HIGH, LOW)

    def as_json(self, min_aspects: int = len(ASPECTS)) -> dict[str, Any]:
        return {
            "overall": self.overall(min_aspects),
            "ratings": {a: self.aspect(a) for a in ASPECTS},
            "samples": {a: list(v) for a, v in self.samples.items()},
            "not_applicable": {a: n for a, n in self.not_applicable.items() if n},
            "rationales": dict(self.rationales),
            "confidence": self.confidence(),
        }


def gather(
    replies: Sequence[tuple[str, Sequence[int], str]], count: int
) -> tuple[list[Ratings], int]:
    """Ratings of `count` responses from (aspect, order shown, reply) triples, where
    order[k] is the response shown as text k + 1; and the number of unreadable replies."""
    ratings = [Ratings() for _ in range(count)]
    unreadable = 0
    for aspect, order, text in replies:
        read = read_reply(text, len(order), aspect)
        if not any(read):
            unreadable += 1
        for shown, rated in zip(order, read, strict=True):
            if rated is not None:
                ratings[shown].add(aspect, rated)
    return ratings, unreadable


def texts_block(responses: Sequence[str], order: Sequence[int]) -> str:
    """The responses as the judge sees them, in `order`: <text 1> … </text 1>, …"""
    return "\n\n".join(
        f"<text {k + 1}>\n{responses[i].strip()}\n</text {k + 1}>" for k, i in enumerate(order)
    )
