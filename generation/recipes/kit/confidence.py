"""How sure a judge is: a number in [0, 1] on every judgement that can have one.

- Several samples of one judge (it.judge(samples=3)): 1 − their spread, where spread is the
  population standard deviation over half the scale (the largest it can be), so [4, 4, 4]
  is 1.0, [0, 5] is 0.0 and [3, 4, 5] on a 5-point scale is 0.67.
- Two judges (a recipe that has two, or a judge and a meta-judge): 1 − |a − b| / scale.
- A pairwise verdict asked in both orders: |2·p(A) − 1| of the averaged p(A), so two orders
  that agree are 1.0, two that flip are 0.0, and soft labels land in between.
- One sample of one judge, or one hard-label order: None. Nothing says how sure it is, and
  routing treats None as unsure (it goes to people).

The sample's confidence is the lowest of its judgements' (None if any has none), unless the
recipe sets one itself (SPA: the margin between two implicit rewards).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 4)


def of_samples(scores: Sequence[float], maximum: float, minimum: float = 0.0) -> float | None:
    """1 − spread of one judge's samples; None for fewer than two."""
    if len(scores) < 2 or maximum <= minimum:
        return None
    half = (maximum - minimum) / 2
    return _unit(1.0 - statistics.pstdev(scores) / half)


def of_two(a: float | None, b: float | None, maximum: float, minimum: float = 0.0) -> float | None:
    """1 − the disagreement of two judges on one scale; None when either has no score."""
    if a is None or b is None or maximum <= minimum:
        return None
    return _unit(1.0 - abs(a - b) / (maximum - minimum))


def of_pair(p_a: float | None, orders: Sequence[float | None]) -> float | None:
    """|2·p(A) − 1| over both orders; None for one order with a hard label, or none parsed."""
    known = [p for p in orders if p is not None]
    if p_a is None or not known:
        return None
    if len(known) < 2 and all(p in (0.0, 0.5, 1.0) for p in known):
        return None  # one hard label says nothing about how sure it is
    return _unit(abs(2.0 * p_a - 1.0))


def lowest(values: Iterable[float | None]) -> float | None:
    """The sample's confidence from its judgements: the lowest, None if any is None or none."""
    got = list(values)
    if not got or any(v is None for v in got):
        return None
    return min(v for v in got if v is not None)
