"""SPA's implicit reward, the preference it implies and how sure that preference is.

DPO reads a preference-tuned model π and its reference π_ref as a reward model: r(y) =
β·[log π(y|x) − log π_ref(y|x)], and p(y1 ≻ y2) = σ(r(y1) − r(y2)) (Bradley-Terry). SPA's
"direct preference judgment" labels a pair by that probability (Kim et al., ICLR 2025,
arXiv 2406.04412). The confidence of a label is |2p − 1| = tanh(|m| / 2) for the margin m:
0 for a tie, towards 1 as the margin grows, on the same scale as a pairwise judge asked in
both orders (kit/confidence.py), so routing by confidence treats both labellers alike.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def implicit_reward(beta: float, aligned_logprob: float, reference_logprob: float) -> float:
    """β·[log p_aligned(y|x) − log p_ref(y|x)], from the summed logprobs of the response."""
    return beta * (aligned_logprob - reference_logprob)


def preference(margin: float) -> float:
    """σ(m): the probability that the first response is preferred (no overflow on junk)."""
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-min(margin, 700.0)))
    z = math.exp(max(margin, -700.0))
    return z / (1.0 + z)


def confidence(margin: float) -> float:
    """|2σ(m) − 1| = tanh(|m| / 2), in [0, 1]. Not rounded: below review_below(τ) exactly
    when |m| < τ."""
    return math.tanh(min(abs(margin), 700.0) / 2.0)


def review_below(tau: float) -> float:
    """The confidence at the margin τ: a run's "review below" set to this sends exactly the
    pairs with |m| < τ to people."""
    return confidence(tau)


def pair_report(rows: list[tuple[Any, Any]]) -> dict[str, Any]:
    """Run figures from (labelled_by, low_confidence) of each stored pair."""
    by = Counter(str(labelled or "unknown") for labelled, _ in rows)
    flagged = sum(1 for _, low in rows if low is True)
    return {
        "pairs": len(rows),
        "labelled_by_implicit_reward": by.get("implicit_reward", 0),
        "labelled_by_judge": by.get("judge", 0),
        "flagged_for_review": flagged,
        "flagged_share": round(flagged / len(rows), 4) if rows else None,
    }


def run_pair_report(run_id: int) -> dict[str, Any]:
    """pair_report over a run's stored pairs (one row per sample: two small JSON fields)."""
    from curation.samples.models import Sample  # a database read; the figures have none

    rows = Sample.objects.filter(run_id=run_id).values_list(
        "extra__metadata__labelled_by", "extra__metadata__low_confidence"
    )
    return pair_report(list(rows))
