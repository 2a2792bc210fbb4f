"""Judge versus human, per rubric: does the AI judge's score predict what people decide?

For each sample of a queue that people reviewed, the human outcome is the curator's
adjudication when there is one, else the majority decision (ties count as neither), plus
the mean human rating. The judge's score is its latest usable judgement under each rubric.
Per rubric we report: pairs, agreement and Cohen's kappa between "judge accepts" (score at
or above JUDGE_ACCEPTS_AT) and the human decision, Spearman's rho between judge score and
the human accept share, and a row per rounded judge score with the human accept rate.

Per rubric also the agreement at each band of the sample's judge confidence (kit/confidence.py
in generation), so a curator sees from which confidence on the judge can be trusted and can
choose a run's "review below c" from it: `trust_from` is the lowest band edge from which
every band with enough decided samples agrees with people at least TRUSTED of the time.

A preference pair is the judge's claim that chosen beats rejected: the judge "accepts" it
whatever the score of either side, so agreement on pairs is the share people accept.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from django.db import connection

from curation.review.agreement import cohens_kappa
from curation.review.models import ReviewQueue

# The AI judge "accepts" a sample when its additive-rubric score is at least this (of 5).
JUDGE_ACCEPTS_AT = 3.0
# Confidence bands (lower edge inclusive; the last one includes 1.0), and what "trusted" is.
BANDS = ((0.0, 0.5), (0.5, 0.75), (0.75, 0.9), (0.9, 1.0))
TRUSTED = 0.9
TRUST_MIN_DECIDED = 3

_SQL = """
    WITH human AS (
        SELECT qi.sample_id,
               NULLIF(qi.final_decision, '') AS final_decision,
               avg(CASE r.decision WHEN 'accept' THEN 1.0 WHEN 'reject' THEN 0.0 END)
                   AS accept_share,
               avg(r.rating) AS rating
        FROM review_queueitem qi JOIN review_review r ON r.item_id = qi.id
        WHERE qi.queue_id = %s
        GROUP BY qi.sample_id, qi.final_decision
    )
    SELECT DISTINCT ON (j.sample_id, j.rubric_id)
           j.rubric_id, j.score, h.final_decision, h.accept_share, h.rating,
           s.judge_confidence, s.kind = 'preference'
    FROM runs_judgement j JOIN human h ON h.sample_id = j.sample_id
         JOIN runs_sample s ON s.id = j.sample_id
    WHERE j.score IS NOT NULL
    ORDER BY j.sample_id, j.rubric_id, j.created_at DESC, j.id DESC
"""


def judge_vs_human(queue: ReviewQueue) -> list[dict[str, Any]]:
    with connection.cursor() as cur:
        cur.execute(_SQL, [queue.pk])
        rows = cur.fetchall()
    by_rubric: dict[str, list[Pair]] = defaultdict(list)
    for rubric, score, final, share, rating, confidence, is_pair in rows:
        share = float(share) if share is not None else None
        if final:
            human: str | None = final
        elif share is None or share == 0.5:
            human = None
        else:
            human = "accept" if share > 0.5 else "reject"
        judge = "accept" if is_pair or float(score) >= JUDGE_ACCEPTS_AT else "reject"
        by_rubric[rubric].append(
            Pair(
                float(score),
                human,
                share,
                float(rating) if rating is not None else None,
                judge,
                confidence,
            )
        )
    return [_rubric_summary(rubric, pairs) for rubric, pairs in sorted(by_rubric.items())]


class Pair(NamedTuple):
    """A reviewed sample under one rubric: the judge's side and the people's."""

    score: float
    human: str | None
    share: float | None
    rating: float | None
    judge: str  # "accept" | "reject"
    confidence: float | None


def band_of(confidence: float | None) -> str:
    if confidence is None:
        return "unknown"
    for low, high in BANDS:
        if low <= confidence < high or (high == 1.0 and confidence == 1.0):
            return f"{low:g}-{high:g}"
    return "unknown"


def confidence_bands(pairs: list[Pair]) -> tuple[list[dict[str, Any]], float | None]:
    """Agreement with people per confidence band, and the edge from which to trust it."""
    names = [f"{low:g}-{high:g}" for low, high in BANDS] + ["unknown"]
    grouped: dict[str, list[Pair]] = defaultdict(list)
    for p in pairs:
        grouped[band_of(p.confidence)].append(p)
    bands: list[dict[str, Any]] = []
    for name in names:
        got = grouped.get(name, [])
        decided = [p for p in got if p.human is not None]
        bands.append(
            {
                "band": name,
                "samples": len(got),
                "decided": len(decided),
                "agreement": sum(p.judge == p.human for p in decided) / len(decided)
                if decided
                else None,
                "human_accept_rate": sum(p.human == "accept" for p in decided) / len(decided)
                if decided
                else None,
            }
        )
    trust_from = None
    for (low, _), band in reversed(list(zip(BANDS, bands, strict=False))):
        if band["decided"] < TRUST_MIN_DECIDED:
            continue
        if band["agreement"] is None or band["agreement"] < TRUSTED:
            break
        trust_from = low
    return bands, trust_from


def _rubric_summary(rubric: str, pairs: list[Pair]) -> dict[str, Any]:
    decided = [(p.judge, p.human) for p in pairs if p.human is not None]
    bands, trust_from = confidence_bands(pairs)
    buckets: dict[int, list[tuple[float | None, float | None]]] = defaultdict(list)
    for score, _, share, rating, _, _ in pairs:
        buckets[round(score)].append((share, rating))
    rows = []
    for score in sorted(buckets):
        shares = [s for s, _ in buckets[score] if s is not None]
        ratings = [r for _, r in buckets[score] if r is not None]
        rows.append(
            {
                "judge_score": score,
                "samples": len(buckets[score]),
                "human_accept_rate": sum(shares) / len(shares) if shares else None,
                "human_mean_rating": sum(ratings) / len(ratings) if ratings else None,
            }
        )
    with_share = [(p.score, p.share) for p in pairs if p.share is not None]
    return {
        "rubric": rubric,
        "pairs": len(pairs),
        "decided_pairs": len(decided),
        "agreement": (sum(j == h for j, h in decided) / len(decided)) if decided else None,
        "cohens_kappa": cohens_kappa(decided) if decided else None,
        "spearman": spearman([a for a, _ in with_share], [b for _, b in with_share]),
        "judge_accepts_at": JUDGE_ACCEPTS_AT,
        "rows": rows,
        "bands": bands,
        "trust_from": trust_from,
        "trusted_agreement": TRUSTED,
        "plot": _plot(rows),
    }


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ties share their mean rank
        i = j + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rho (Pearson on mean ranks); None when either side does not vary."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return float(cov / (vx * vy) ** 0.5)


# The plot: one bar per judge score, its height the human accept rate. Numbers only, so
# the template draws it as inline SVG with nothing untrusted in it.
W, H, PAD = 360, 180, 28


def _plot(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(len(rows), 1)
    slot = (W - 2 * PAD) / n
    bars = []
    for i, row in enumerate(rows):
        rate = row["human_accept_rate"]
        height = (H - 2 * PAD) * (rate or 0.0)
        bars.append(
            {
                "x": round(PAD + i * slot + slot * 0.15, 1),
                "y": round(H - PAD - height, 1),
                "w": round(slot * 0.7, 1),
                "h": round(height, 1),
                "label_x": round(PAD + i * slot + slot / 2, 1),
                "score": row["judge_score"],
                "rate": rate,
                "samples": row["samples"],
            }
        )
    return {"width": W, "height": H, "pad": PAD, "base": H - PAD, "top": PAD, "bars": bars}
