"""Toolformer's text arithmetic: where a call can go, the words after it, the weighted loss
over them and the annotated text.

A position is a word boundary: a call goes after the first `index` words of the text, before
the next one (the paper considers every token; prompt logprobs of a given text are summed,
so words are the units here). The loss after a position weighs the next words by
w_t ∝ max(0, 1 − decay·t), t = 0, 1, …, as the paper weighs its next tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Position:
    index: int  # words before the call
    at: int  # character offset in the text: the end of those words

    def prefix(self, text: str) -> str:
        return text[: self.at]


def window(text: str, max_words: int) -> str:
    """The text up to its first `max_words` words, whitespace as it was between them."""
    spans = list(_WORD.finditer(text))
    if len(spans) <= max_words:
        return text.strip()
    return text[spans[0].start() : spans[max_words - 1].end()]


def positions(text: str) -> list[Position]:
    """Every boundary with at least one word before and one after it."""
    spans = list(_WORD.finditer(text))
    return [Position(i, spans[i - 1].end()) for i in range(1, len(spans))]


def weights(decay: float) -> list[float]:
    """w_t = max(0, 1 − decay·t) for the t with a positive weight (5 of them at 0.2)."""
    out, t = [], 0
    while 1 - decay * t > 1e-9:
        out.append(1 - decay * t)
        t += 1
    return out


def continuations(text: str, position: Position, count: int) -> list[str]:
    """The next 1, 2, …, `count` words after the position, with their leading whitespace
    (fewer near the end): scored one by one, their differences are each word's logprob."""
    spans = [m for m in _WORD.finditer(text) if m.start() >= position.at][:count]
    return [text[position.at : s.end()] for s in spans]


def weighted_loss(cumulative: list[float], decay: float) -> float:
    """−Σ w_t·log p(word_t) / Σ w_t, from the summed logprobs of the first 1, 2, … words."""
    ws = weights(decay)[: len(cumulative)]
    if not ws:
        return 0.0
    per_word = [b - a for a, b in zip([0.0, *cumulative], cumulative, strict=False)]
    return -sum(w * lp for w, lp in zip(ws, per_word, strict=False)) / sum(ws)


def annotate(text: str, inserts: dict[int, str]) -> str:
    """The text with each insert placed after its position's words: `… is [Call → r] 1.2M`."""
    out, last = [], 0
    for at in sorted(inserts):
        out.append(text[last:at])
        out.append(" " + inserts[at])
        last = at
    out.append(text[last:])
    return "".join(out)
