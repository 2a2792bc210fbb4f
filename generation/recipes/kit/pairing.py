"""PAIR (METHODS.md §0.1): build a (chosen, rejected) pair from scores."""

from __future__ import annotations

from generation.recipes.kit.item import Drop


def best_vs_worst(scores: list[float | None]) -> tuple[int, int]:
    """(best, worst) indexes over the scored answers; Drop on a tie or fewer than two scores.

    Ties between equal best (or worst) scores go to the earlier answer.
    """
    judged = [(s, i) for i, s in enumerate(scores) if s is not None]
    if len(judged) < 2:
        raise Drop("unjudgeable")
    best = max(judged, key=lambda p: (p[0], -p[1]))
    worst = min(judged, key=lambda p: (p[0], p[1]))
    if best[0] == worst[0]:
        raise Drop("tie")
    return best[1], worst[1]
