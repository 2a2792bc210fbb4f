"""Meta-Rewarding's judge side (METHODS.md #20): battles between judgments, position weights,
and an Elo-scale rating of each judgment.

A meta-judge verdict asked in both orders is two battles, one per order. Each battle's win
is weighted by the position it was won from: if the first position wins more often than the
second over one response's battles, wins from the first position count less (the paper's
position-bias weights). A verdict that flips with the order is then a tie: both wins are
from the first (or both from the second) position and weigh the same.

The ratings are a Bradley-Terry fit (Hunter's MM algorithm) of the weighted wins, with
`PRIOR` virtual games per pair split evenly so that an unbeaten judgment has a finite
rating, shown on the Elo scale (1000 + 400·log10 strength).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from generation.recipes.kit.results import PairVerdict

PRIOR = 0.5  # virtual games per pair of judgments, half won by each
ROUNDS = 200
TIE = 0.5  # Elo points: ratings closer than this are a tie


@dataclass(frozen=True)
class Battle:
    """One order of a meta-judge verdict: who sat first, who second, p(first wins)."""

    first: int
    second: int
    p_first: float


def battles(a: int, b: int, verdict: PairVerdict) -> list[Battle]:
    """The orders of a PAIRJ of judgments a and b that parsed (order 2 put b first)."""
    out: list[Battle] = []
    for k, p_a in enumerate(verdict.orders):
        if p_a is not None:
            out.append(Battle(a, b, p_a) if k == 0 else Battle(b, a, 1.0 - p_a))
    return out


def position_weights(fought: Sequence[Battle]) -> tuple[float, float]:
    """(weight of a win from the first position, from the second): each is the other
    position's share of the wins, so a judge that favours a position gains nothing by it."""
    first = sum(b.p_first for b in fought)
    second = sum(1.0 - b.p_first for b in fought)
    if first + second == 0:
        return 0.5, 0.5
    return second / (first + second), first / (first + second)


def ratings(count: int, fought: Sequence[Battle], weights: tuple[float, float]) -> list[float]:
    """Elo-scale ratings of `count` judgments from their weighted battles."""
    wins = [[0.0 if i == j else PRIOR / 2 for j in range(count)] for i in range(count)]
    for b in fought:
        wins[b.first][b.second] += weights[0] * b.p_first
        wins[b.second][b.first] += weights[1] * (1.0 - b.p_first)
    strength = [1.0] * count
    for _ in range(ROUNDS):
        new = []
        for i in range(count):
            games = sum(
                (wins[i][j] + wins[j][i]) / (strength[i] + strength[j])
                for j in range(count)
                if j != i
            )
            new.append(sum(wins[i]) / games if games else strength[i])
        scale = statistics.geometric_mean(new)
        strength = [s / scale for s in new]
    return [round(1000.0 + 400.0 * math.log10(s), 2) for s in strength]


def rate(
    count: int, pairs: Sequence[tuple[int, int]], verdicts: Sequence[PairVerdict]
) -> tuple[list[Battle], tuple[float, float], list[float]]:
    """The battles of the PAIRJ verdicts on `pairs` of `count` judgements, their position
    weights, and the judgements' ratings."""
    fought = [b for (a, c), v in zip(pairs, verdicts, strict=True) for b in battles(a, c, v)]
    weights = position_weights(fought)
    return fought, weights, ratings(count, fought, weights)


def best_and_worst(elo: Sequence[float]) -> tuple[int, int] | None:
    """(highest, lowest) rated; None when they are within TIE (earlier wins a tie)."""
    best = max(range(len(elo)), key=lambda i: (elo[i], -i))
    worst = min(range(len(elo)), key=lambda i: (elo[i], i))
    return None if elo[best] - elo[worst] < TIE else (best, worst)


def margin_confidence(better: float, worse: float) -> float:
    """|2·p − 1| for p = the Elo win probability of the better judgment over the worse."""
    p = 1.0 / (1.0 + math.pow(10.0, (worse - better) / 400.0))
    return round(abs(2.0 * p - 1.0), 4)
