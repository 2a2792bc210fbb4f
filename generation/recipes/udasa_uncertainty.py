"""UDASA's numbers (METHODS.md #23): each response's uncertainty on three axes, their
weighted sum u, the pair (lowest u against a sub-optimal response), its gap Δu, the
curriculum stage Δu falls in, and how sure the pair is. No model calls here.

Every uncertainty is in [0, 1], higher meaning less reliable:

- semantic: 1 − the mean cosine of a response's embedding to the other responses' (an
  outlier among the samples is semantically uncertain; clipped at 0 and 1);
- factual and value: 1 − the judge's mean score / the top of its scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from generation.recipes.kit.item import Drop
from generation.rouge import rouge_l, tokenize

AXES = ("semantic", "factual", "value")
# Curriculum order: clear gaps first (conservative), the finest distinctions last.
STAGES = ("conservative", "moderate", "exploratory")
RULES = ("next", "median", "worst")


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)


def dispersion(vectors: Any) -> list[float]:
    """Semantic uncertainty of each unit-length row: 1 − its mean cosine to the others."""
    rows = np.asarray(vectors, dtype=np.float64)
    n = len(rows)
    if n < 2:
        return [0.0] * n
    sims = rows @ rows.T
    mean = (sims.sum(axis=1) - np.diagonal(sims)) / (n - 1)
    return [_unit(1.0 - m) for m in mean]


def lexical_dispersion(texts: Sequence[str]) -> list[float]:
    """The same with ROUGE-L F in place of cosine, where no embedder can load."""
    tokens = [tokenize(t) for t in texts]
    n = len(tokens)
    if n < 2:
        return [0.0] * n
    sims = [[rouge_l(a, b) for b in tokens] for a in tokens]
    return [_unit(1.0 - (sum(row) - row[i]) / (n - 1)) for i, row in enumerate(sims)]


def from_score(score: float | None, maximum: float) -> float | None:
    """A judge's mean score as an uncertainty; None when nothing parsed."""
    return None if score is None else _unit(1.0 - score / maximum)


def normalised(weights: Mapping[str, float]) -> dict[str, float]:
    """The axes that count (weight > 0), their weights summing to 1."""
    total = sum(w for w in weights.values() if w > 0)
    return {a: w / total for a, w in weights.items() if w > 0}


def combine(
    axes: Mapping[str, Sequence[float | None]], weights: Mapping[str, float]
) -> list[float | None]:
    """u per response: the weighted mean of its axes (weights normalised); None where an
    axis that counts is unknown for it (its judge never parsed)."""
    used = normalised(weights)
    n = len(next(iter(axes.values()))) if axes else 0
    out: list[float | None] = []
    for i in range(n):
        values = [axes[a][i] for a in used]
        known = [v for v in values if v is not None]
        if len(known) < len(values):
            out.append(None)
        else:
            out.append(_unit(sum(w * v for w, v in zip(used.values(), known, strict=True))))
    return out


@dataclass(frozen=True)
class Pair:
    chosen: int
    rejected: int
    delta: float  # Δu = u(rejected) − u(chosen), ≥ 0


def pick(u: Sequence[float | None], rule: str) -> Pair:
    """Chosen: the lowest u (ties: the earlier response). Rejected, among the others ranked
    by u: the next one ("next"), the middle one ("median", the lower middle for an even
    count) or the last ("worst"). Drop("unjudgeable") with fewer than two known u."""
    ranked = sorted((v, i) for i, v in enumerate(u) if v is not None)
    if len(ranked) < 2:
        raise Drop("unjudgeable")
    if rule not in RULES:
        raise ValueError(f"unknown rejected rule {rule!r}")
    others = ranked[1:]
    at = {"next": 0, "median": (len(others) - 1) // 2, "worst": len(others) - 1}[rule]
    (best, chosen), (worse, rejected) = ranked[0], others[at]
    return Pair(chosen, rejected, round(worse - best, 4))


def stage(delta: float, moderate_at: float, conservative_at: float) -> str:
    """conservative from conservative_at up, moderate from moderate_at, exploratory below."""
    if delta >= conservative_at:
        return "conservative"
    return "moderate" if delta >= moderate_at else "exploratory"


def pair_confidence(delta: float, conservative_at: float, judges: Sequence[float | None]) -> float:
    """How sure the pair is: the gap as a share of the conservative threshold (1 from
    there up), lowered to the least self-consistent judgement of the pair where the
    judges' spread is known (several samples)."""
    margin = min(1.0, delta / conservative_at) if conservative_at > 0 else 1.0
    known = [c for c in judges if c is not None]
    return round(max(0.0, min([margin, *known])), 4)
