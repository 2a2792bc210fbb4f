"""UltraFeedback's PAIR step: preference pairs from the responses' overall scores, and how
sure the judge is of each pair.

Rules (`pairing`):
- best_vs_random (default, as binarized UltraFeedback: Zephyr, Argilla's cleaned set): the
  highest overall is chosen; the rejected is a random one of those scored lower by more
  than `min_margin`.
- best_vs_worst: the highest against the lowest.
- all_pairs: every pair whose scores differ by more than `min_margin`, higher one chosen.
Equal best scores go to the earlier response. No pair → Drop("tie") when every score is
the same, Drop("small_margin") when they differ by `min_margin` or less.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from generation.recipes.kit import Drop

RULES = ("best_vs_random", "best_vs_worst", "all_pairs")
_EPS = 1e-9  # scores are means of a few ratings: 3.7499999 is 3.75


def pick_pairs(
    scores: Sequence[float | None], rule: str, min_margin: float, rng: random.Random
) -> list[tuple[int, int]]:
    """(chosen, rejected) indexes of the scored responses under `rule`."""
    rated = [(s, i) for i, s in enumerate(scores) if s is not None]
    if len(rated) < 2:
        raise Drop("unjudgeable", f"{len(rated)} of {len(scores)} responses rated")

    def apart(a: float, b: float) -> bool:
        return a - b > min_margin + _EPS

    if rule == "all_pairs":
        ranked = sorted(rated, key=lambda p: (-p[0], p[1]))
        pairs = [(i, j) for a, i in ranked for b, j in ranked if apart(a, b)]
    else:
        top, best = max(rated, key=lambda p: (p[0], -p[1]))
        lower = [(s, i) for s, i in rated if apart(top, s)]
        if not lower:
            pairs = []
        elif rule == "best_vs_worst":
            pairs = [(best, min(lower, key=lambda p: (p[0], p[1]))[1])]
        else:
            pairs = [(best, rng.choice(lower)[1])]
    if not pairs:
        same = len({round(s, 6) for s, _ in rated}) == 1
        raise Drop("tie" if same else "small_margin", f"scores {[s for s, _ in rated]}")
    return pairs


def pair_confidence(chosen: Sequence[float], rejected: Sequence[float]) -> float | None:
    """How sure the judge is that the chosen beats the rejected, from its samples.

    P = the share of (chosen draw, rejected draw) comparisons the chosen wins (ties count
    half), where a draw is one judge sample's overall score; confidence = 2·P − 1, at
    least 0: samples that always rank the chosen higher give 1.0, samples that rank the
    two either way give 0. Like a verdict asked in both orders (|2·p(A) − 1|). Fewer than
    two draws on either side say nothing about spread: None (routing sends it to people).
    """
    if len(chosen) < 2 or len(rejected) < 2:
        return None
    wins = sum(1.0 if c > r else 0.5 if c == r else 0.0 for c in chosen for r in rejected)
    share = wins / (len(chosen) * len(rejected))
    return round(max(0.0, 2.0 * share - 1.0), 4)
