"""Inter-annotator agreement for review queues (pure standard library, no Django).

The item-keyed functions take ``{item_id: {annotator_id: label}}``. An annotator who did
not label an item is simply absent from that item's mapping; a label of ``None`` counts as
missing too. Items left with fewer than two labels cannot be paired and are ignored.

Every statistic returns ``None`` when there is nothing to compute it from, so callers can
show "not enough data" rather than a misleading number.

- :func:`percent_agreement`: raw pairwise agreement, any number of annotators.
- :func:`cohens_kappa`: chance-corrected agreement between exactly two annotators.
- :func:`krippendorff_alpha`: chance-corrected agreement for any number of annotators,
  missing values, and nominal / ordinal / interval data (Krippendorff 2011,
  "Computing Krippendorff's Alpha-Reliability", coincidence-matrix formulation).
- :func:`majority`, :func:`majority_labels`, :func:`agreement_with`: agreement of one
  annotator (or the AI judge) with the majority or with any other reference labelling.
- :func:`disagreement`: how split one item's labels are, to order a queue by
  "most disagreement first".
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Literal, TypeVar

__all__ = [
    "Level",
    "agreement_with",
    "cohens_kappa",
    "disagreement",
    "krippendorff_alpha",
    "majority",
    "majority_labels",
    "percent_agreement",
]

ItemId = TypeVar("ItemId", bound=Hashable)
AnnotatorId = TypeVar("AnnotatorId", bound=Hashable)
Label = TypeVar("Label", bound=Hashable)

Level = Literal["nominal", "ordinal", "interval"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval")


def _present(labels: Iterable[Label | None]) -> list[Label]:
    return [label for label in labels if label is not None]


def percent_agreement(items: Mapping[ItemId, Mapping[AnnotatorId, Label | None]]) -> float | None:
    """Mean, over items with at least two labels, of the fraction of annotator pairs that agree.

    An item labelled ``a, a, b`` has three pairs of which one agrees, so it scores 1/3.
    Returns ``None`` when no item has two labels.
    """
    total = 0.0
    scored = 0
    for by_annotator in items.values():
        labels = _present(by_annotator.values())
        m = len(labels)
        if m < 2:
            continue
        agreeing = sum(n * (n - 1) for n in Counter(labels).values()) // 2
        total += agreeing / (m * (m - 1) // 2)
        scored += 1
    return total / scored if scored else None


def cohens_kappa(pairs: Sequence[tuple[Label, Label]]) -> float | None:
    """Cohen's kappa for two annotators; each pair is (first's label, second's label) on one item.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the observed agreement and p_e the agreement
    expected by chance from each annotator's own label frequencies. Returns ``None`` for no
    pairs.

    Degenerate case: when p_e == 1 (both annotators gave every item the same single label)
    kappa is 0/0. We define it as 1.0 if the observed agreement is 1, else 0.0. (With exact
    counts p_e == 1 implies p_o == 1, so in practice this returns 1.0: perfect agreement on a
    constant labelling is reported as perfect, not as undefined.)

    Computed on integer counts, so the degenerate test is exact rather than a float compare.
    """
    n = len(pairs)
    if n == 0:
        return None
    agree = sum(1 for a, b in pairs if a == b)
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    # p_o = agree / n and p_e = chance / n², so kappa = (agree·n − chance) / (n² − chance).
    chance = sum(count * second[label] for label, count in first.items())
    if chance == n * n:
        return 1.0 if agree == n else 0.0
    return (agree * n - chance) / (n * n - chance)


def krippendorff_alpha(
    items: Mapping[ItemId, Mapping[AnnotatorId, Label | None]],
    level: Level = "nominal",
) -> float | None:
    """Krippendorff's alpha over ``{item: {annotator: value}}`` with missing values allowed.

    alpha = 1 − D_o / D_e, from the coincidence matrix o_ck (each unit with m_u ≥ 2 values
    contributes 1/(m_u − 1) for every ordered pair of its values), its marginals n_c and
    n = Σ n_c:

        D_o ∝ Σ_ck o_ck δ²(c, k)        D_e ∝ Σ_ck n_c n_k δ²(c, k) / (n − 1)

    with δ² by ``level``: nominal 0/1; interval (c − k)²; ordinal
    (Σ_{g=c..k} n_g − (n_c + n_k)/2)² over the values in sorted order. Interval values must
    be real numbers; ordinal values must be mutually orderable.

    Returns ``None`` when fewer than two pairable values exist. When every pairable value is
    the same, D_e = 0 and alpha is 0/0; as with :func:`cohens_kappa` we report that as 1.0
    (all coders agree and nobody disagrees), not as undefined.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")

    units: list[tuple[int, Counter[Label]]] = []
    totals: Counter[Label] = Counter()
    for by_annotator in items.values():
        values = _present(by_annotator.values())
        if len(values) < 2:
            continue
        counts = Counter(values)
        units.append((len(values), counts))
        totals.update(counts)
    n = sum(totals.values())
    if n < 2:
        return None

    delta = _distances(totals, level)

    # Σ_ck o_ck δ²(c,k): the diagonal has δ² = 0, so only distinct value pairs within a unit.
    observed = 0.0
    for m, counts in units:
        present = list(counts.items())
        unit_sum = 0.0
        for (c, nc), (k, nk) in combinations(present, 2):
            unit_sum += nc * nk * delta[c, k]
        observed += 2 * unit_sum / (m - 1)  # ×2: o_ck and o_kc

    expected = 0.0
    for (c, nc), (k, nk) in combinations(list(totals.items()), 2):
        expected += 2 * nc * nk * delta[c, k]
    if expected == 0:
        return 1.0
    return 1.0 - (n - 1) * observed / expected


def _distances(totals: Counter[Label], level: Level) -> dict[tuple[Label, Label], float]:
    """δ²(c, k) for every pair of distinct observed values, both orders."""
    values = list(totals)
    delta: dict[tuple[Label, Label], float] = {}
    if level == "nominal":
        for c, k in combinations(values, 2):
            delta[c, k] = delta[k, c] = 1.0
        return delta

    if level == "interval":
        numeric: dict[Label, float] = {}
        for value in values:
            if not isinstance(value, numbers.Real):
                raise TypeError(f"interval alpha needs numeric values, got {value!r}")
            numeric[value] = float(value)
        for c, k in combinations(values, 2):
            delta[c, k] = delta[k, c] = (numeric[c] - numeric[k]) ** 2
        return delta

    try:
        ranked = sorted(values)  # type: ignore[type-var]  # orderability is the caller's contract
    except TypeError as exc:
        raise TypeError("ordinal alpha needs mutually orderable values") from exc
    # cumulative[i] = Σ n_g over the values ranked below i,
    # so Σ_{g=c..k} n_g = cumulative[k + 1] − cumulative[c].
    cumulative = [0]
    for value in ranked:
        cumulative.append(cumulative[-1] + totals[value])
    for i, j in combinations(range(len(ranked)), 2):
        c, k = ranked[i], ranked[j]
        span = cumulative[j + 1] - cumulative[i] - (totals[c] + totals[k]) / 2
        delta[c, k] = delta[k, c] = span * span
    return delta


def majority(labels: Sequence[Label]) -> Label | None:
    """The most common label, or ``None`` when there are no labels or the top count is tied."""
    top = Counter(labels).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def majority_labels(
    items: Mapping[ItemId, Mapping[AnnotatorId, Label | None]],
    *,
    excluding: AnnotatorId | None = None,
) -> dict[ItemId, Label]:
    """``{item: majority label}`` for items that have a clear (untied) majority.

    Pass ``excluding=annotator`` for the leave-one-out majority to compare that annotator
    against, so their own vote does not count toward the reference they are scored on.
    """
    out: dict[ItemId, Label] = {}
    for item, by_annotator in items.items():
        labels = _present(
            label for annotator, label in by_annotator.items() if annotator != excluding
        )
        winner = majority(labels)
        if winner is not None:
            out[item] = winner
    return out


def agreement_with(
    reference: Mapping[ItemId, Label | None],
    labels: Mapping[ItemId, Label | None],
) -> float | None:
    """Fraction of the items labelled in both mappings on which the labels are equal.

    E.g. one annotator against :func:`majority_labels`, or against the AI judge's verdicts.
    ``None`` when the two share no labelled item.
    """
    shared = 0
    equal = 0
    for item, label in labels.items():
        if label is None:
            continue
        ref = reference.get(item)
        if ref is None:
            continue
        shared += 1
        equal += ref == label
    return equal / shared if shared else None


def disagreement(labels: Sequence[Hashable]) -> float:
    """1 − (count of the most common label / n): 0 when unanimous, higher when split.

    0.0 for fewer than two labels (nothing to disagree with).
    """
    n = len(labels)
    if n < 2:
        return 0.0
    top = Counter(labels).most_common(1)[0][1]
    return 1.0 - top / n
