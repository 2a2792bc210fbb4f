"""What the steps of an Item return: small frozen values that survive a JSON round trip.

Every step's result is written to the item's journal (RunItem.checkpoint) and read back
when the item resumes in a later slice, so each result type has to_json / from_json.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.recipes.kit import confidence

FIRST_TOKENS = 16  # token logprobs kept per choice: enough for a label token, small to store


def _plain(result: Any) -> dict[str, Any]:
    """A result's fields for the journal: its lists copied one level deep. (dataclasses'
    asdict deep-copies every nested value, a measurable cost per step at 100+ steps/s.)"""
    return {k: list(v) if isinstance(v, list) else v for k, v in vars(result).items()}


@dataclass(frozen=True)
class Gen:
    """The choices of one GEN call (n of them), with what lineage and filters need."""

    texts: list[str]
    finish_reasons: list[str]
    model: str
    role: str
    template: str
    version: str
    parsed: list[Any] | None = None
    # Per choice: the first tokens as [token, logprob, {alternative: logprob}], and the
    # mean token logprob of the whole choice (LP), where the endpoint returned logprobs.
    first_tokens: list[list[list[Any]]] | None = None
    mean_logprob: list[float | None] | None = None
    tool_calls: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    @property
    def truncated(self) -> bool:
        """The endpoint stopped a choice at max_tokens: its text is incomplete."""
        return any(reason == "length" for reason in self.finish_reasons)

    def to_json(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Gen:
        return cls(**data)


@dataclass(frozen=True)
class Judged:
    """A JUDGE: the mean of the parsable scores (None when none parsed) and the raw replies."""

    score: float | None
    scores: list[float]
    raw: list[str]
    rubric: str
    version: str
    model: str
    maximum: float = 5.0  # the top of the scale, for the confidence
    minimum: float = 0.0

    @property
    def confidence(self) -> float | None:
        """1 − the spread of the judge's samples; None for one sample (kit/confidence.py)."""
        return confidence.of_samples(self.scores, self.maximum, self.minimum)

    @property
    def rationale(self) -> str:
        return self.raw[0].rsplit("Score", 1)[0].strip() if self.raw else ""

    def to_json(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Judged:
        return cls(**data)


@dataclass(frozen=True)
class PairVerdict:
    """PAIRJ: p(A beats B), averaged over both orders when swapped; winner a, b or tie."""

    p_a: float | None
    orders: list[float | None]  # p(A) from each order asked
    raw: list[str]
    label_source: str  # "logprobs" | "text"
    version: str
    model: str

    @property
    def confidence(self) -> float | None:
        """|2·p(A) − 1| over both orders (kit/confidence.py)."""
        return confidence.of_pair(self.p_a, self.orders)

    @property
    def winner(self) -> str | None:
        if self.p_a is None:
            return None
        return "a" if self.p_a > 0.5 else "b" if self.p_a < 0.5 else "tie"

    def to_json(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairVerdict:
        return cls(**data)


@dataclass(frozen=True)
class TextScored:
    """PLP: how likely the model finds a given text, over its scored tokens (the
    continuation when one was given, else the whole text)."""

    mean_logprob: float | None  # None when no scored token has a logprob
    count: int  # scored tokens with a logprob
    sum_logprob: float
    method: str  # "echo" | "prompt_logprobs": how the endpoint answered
    model: str

    @property
    def perplexity(self) -> float | None:
        """exp(-mean logprob): 1 for a text the model is sure of, higher the less it is."""
        if self.mean_logprob is None:
            return None
        return math.exp(min(-self.mean_logprob, 700.0))  # no OverflowError on junk

    def to_json(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextScored:
        return cls(**data)


@dataclass(frozen=True)
class Vote:
    """VOTE: the majority answer, its share, and which inputs voted for it."""

    answer: str | None
    share: float
    count: int
    indices: list[int]
    answers: list[str | None]

    @classmethod
    def of(cls, texts: Sequence[str], extract: Callable[[str], str | None]) -> Vote:
        """The majority over what `extract` reads (None is no vote); ties go to the first."""
        answers = [extract(t) for t in texts]
        tally = Counter(a for a in answers if a is not None)
        if not tally:
            return cls(None, 0.0, 0, [], answers)
        answer, count = max(tally.items(), key=lambda kv: (kv[1], -answers.index(kv[0])))
        indices = [i for i, a in enumerate(answers) if a == answer]
        return cls(answer, count / len(texts), count, indices, answers)


@dataclass(frozen=True)
class Novelty:
    """DEDUP-L / DEDUP-E: whether the text was new (and so joined the pool), and its nearest."""

    novel: bool
    score: float  # ROUGE-L F or cosine to the nearest pool entry
    nearest: str | None = None
    most_similar: list[list[Any]] = field(default_factory=list)  # [[text, score], ...]

    def to_json(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Novelty:
        return cls(**data)
