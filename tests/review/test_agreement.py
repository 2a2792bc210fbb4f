"""curation.review.agreement: checked against Krippendorff's published worked examples,
textbook kappa values, and independent brute-force implementations written from the
definitions (every ordered pair of coders, explicit sums) rather than from counts.

A one-off comparison against the `krippendorff` package and scikit-learn's
cohen_kappa_score on thousands of random matrices agreed to 1e-15; these tests do not
depend on either package.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pytest

from curation.review.agreement import (
    Level,
    agreement_with,
    cohens_kappa,
    disagreement,
    krippendorff_alpha,
    majority,
    majority_labels,
    percent_agreement,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# four coders, twelve units, missing values ("*").
KRIPPENDORFF_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 * * *",
    "B": "1 2 3 3 2 2 4 1 2 5 * 3",
    "C": "* 3 3 3 2 3 4 2 2 5 1 *",
    "D": "1 2 3 3 2 4 4 1 2 5 1 *",
}


def by_unit(rows: Mapping[str, str]) -> dict[int, dict[str, int]]:
    """Coder rows of "1 2 * …" into {unit: {coder: value}}, leaving "*" out."""
    items: dict[int, dict[str, int]] = {}
    for coder, row in rows.items():
        for unit, value in enumerate(row.split(), start=1):
            if value != "*":
                items.setdefault(unit, {})[coder] = int(value)
    return items


def brute_alpha(items: Mapping[Any, Mapping[Any, Any]], level: str) -> float | None:
    """Alpha straight from the definition, one ordered pair of coders at a time."""
    coincidences: dict[tuple[Any, Any], float] = {}
    for labels in items.values():
        values = [v for v in labels.values() if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            key = (values[i], values[j])
            coincidences[key] = coincidences.get(key, 0.0) + 1 / (m - 1)
    domain = sorted({c for c, _ in coincidences})
    marginal = {c: sum(coincidences.get((c, k), 0.0) for k in domain) for c in domain}
    n = sum(marginal.values())
    if n < 2:
        return None

    def delta(c: Any, k: Any) -> float:
        if level == "nominal":
            return 0.0 if c == k else 1.0
        if level == "interval":
            return float((c - k) ** 2)
        lo, hi = sorted((domain.index(c), domain.index(k)))
        between = sum(marginal[domain[g]] for g in range(lo, hi + 1))
        return (between - (marginal[c] + marginal[k]) / 2) ** 2

    observed = sum(o * delta(c, k) for (c, k), o in coincidences.items()) / n
    expected = sum(marginal[c] * marginal[k] * delta(c, k) for c in domain for k in domain) / (
        n * (n - 1)
    )
    return 1.0 if expected == 0 else 1 - observed / expected


def brute_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> float:
    n = len(pairs)
    labels = {label for pair in pairs for label in pair}
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum(
        (sum(a == label for a, _ in pairs) / n) * (sum(b == label for _, b in pairs) / n)
        for label in labels
    )
    return (p_o - p_e) / (1 - p_e)


def random_items(rng: random.Random) -> dict[int, dict[int, float | None]]:
    coders = rng.randint(2, 6)
    values: list[float] = (
        list(range(1, rng.randint(2, 6) + 1))
        if rng.random() < 0.7
        else [round(rng.uniform(-5, 5), 2) for _ in range(rng.randint(2, 5))]
    )
    p_missing = rng.choice([0.0, 0.2, 0.5])
    items: dict[int, dict[int, float | None]] = {}
    for unit in range(rng.randint(1, 25)):
        items[unit] = {}
        for coder in range(coders):
            roll = rng.random()
            if roll < p_missing / 2:
                items[unit][coder] = None  # an explicit None counts as missing
            elif roll >= p_missing:
                items[unit][coder] = rng.choice(values)
    return items


# --- Krippendorff's alpha ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)],
)
def test_alpha_reproduces_krippendorffs_four_coder_example_with_missing_data(
    level: Level, published: float
) -> None:
    alpha = krippendorff_alpha(by_unit(KRIPPENDORFF_2011), level)
    assert alpha == pytest.approx(published, abs=5e-4)


def test_alpha_reproduces_krippendorffs_two_coder_binary_example() -> None:
    # Same paper, section A: α = 0.095.
    items = by_unit({"A": "0 1 0 0 0 0 0 0 1 0", "B": "1 1 1 0 0 1 0 0 0 0"})
    assert krippendorff_alpha(items) == pytest.approx(0.095, abs=5e-4)


def test_alpha_ignores_units_that_only_one_coder_labelled() -> None:
    items = by_unit(KRIPPENDORFF_2011)
    assert 11 in items and 12 in items
    with_lonely_unit = {**items, 99: {"A": 5}}
    assert krippendorff_alpha(with_lonely_unit) == krippendorff_alpha(items)
    # Unit 12 has a single value (B: 3); dropping it changes nothing either.
    assert krippendorff_alpha({u: v for u, v in items.items() if u != 12}) == (
        krippendorff_alpha(items)
    )


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_a_brute_force_computation_on_random_data(level: Level) -> None:
    rng = random.Random(f"alpha-{level}")
    for _ in range(300):
        items = random_items(rng)
        expected = brute_alpha(items, level)
        actual = krippendorff_alpha(items, level)
        if expected is None:
            assert actual is None
        else:
            assert actual == pytest.approx(expected, abs=1e-9)


def test_alpha_is_one_when_coders_agree_on_varied_values() -> None:
    items = {u: {"a": u % 3, "b": u % 3, "c": u % 3} for u in range(9)}
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(items, level) == pytest.approx(1.0)


def test_alpha_is_none_when_no_unit_has_two_values() -> None:
    assert krippendorff_alpha({}) is None
    assert krippendorff_alpha({1: {"a": 1}, 2: {"b": 2}, 3: {"a": None, "b": 1}}) is None


def test_alpha_is_one_by_definition_when_every_value_is_the_same() -> None:
    # D_e = 0 makes alpha 0/0; the module reports unanimous labelling as perfect.
    assert krippendorff_alpha({1: {"a": "x", "b": "x"}, 2: {"a": "x", "c": "x"}}) == 1.0


def test_alpha_treats_an_explicit_none_like_a_missing_label() -> None:
    items = by_unit(KRIPPENDORFF_2011)
    padded = {u: {**labels, "E": None} for u, labels in items.items()}
    assert krippendorff_alpha(padded, "ordinal") == krippendorff_alpha(items, "ordinal")


def test_alpha_below_zero_means_systematic_disagreement() -> None:
    items = {u: {"a": u % 2, "b": 1 - u % 2} for u in range(10)}
    alpha = krippendorff_alpha(items)
    assert alpha is not None and alpha < 0


def test_ordinal_alpha_accepts_any_orderable_labels() -> None:
    numeric = by_unit(KRIPPENDORFF_2011)
    lettered = {u: {c: "abcde"[v - 1] for c, v in labels.items()} for u, labels in numeric.items()}
    assert krippendorff_alpha(lettered, "ordinal") == pytest.approx(
        krippendorff_alpha(numeric, "ordinal")
    )


def test_interval_alpha_refuses_labels_that_are_not_numbers() -> None:
    with pytest.raises(TypeError, match="numeric"):
        krippendorff_alpha({1: {"a": "good", "b": "bad"}}, "interval")


def test_ordinal_alpha_refuses_labels_that_cannot_be_ordered() -> None:
    with pytest.raises(TypeError, match="orderable"):
        krippendorff_alpha({1: {"a": 1, "b": "bad"}}, "ordinal")


def test_alpha_refuses_an_unknown_level_of_measurement() -> None:
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha({1: {"a": 1, "b": 2}}, "ratio")  # type: ignore[arg-type]


# --- Cohen's kappa ----------------------------------------------------------------------


def test_kappa_reproduces_the_textbook_fifty_item_example() -> None:
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohens_kappa(pairs) == pytest.approx(0.4)


def test_kappa_matches_a_brute_force_computation_on_random_data() -> None:
    rng = random.Random("kappa")
    for _ in range(500):
        labels = rng.sample("abcde", rng.randint(2, 5))
        first = [rng.choice(labels) for _ in range(rng.randint(1, 40))]
        second = [a if rng.random() < 0.6 else rng.choice(labels) for a in first]
        pairs = list(zip(first, second, strict=True))
        if len(set(first)) == len(set(second)) == 1 and first[0] == second[0]:
            continue  # p_e == 1: the defined degenerate case, tested below
        assert cohens_kappa(pairs) == pytest.approx(brute_kappa(pairs), abs=1e-12)


def test_kappa_is_one_for_perfect_agreement_and_minus_one_for_perfect_inversion() -> None:
    assert cohens_kappa([("a", "a"), ("b", "b"), ("c", "c")]) == 1.0
    assert cohens_kappa([("a", "b"), ("b", "a")]) == -1.0


def test_kappa_is_one_when_both_annotators_use_a_single_shared_label() -> None:
    # p_e == 1 makes kappa 0/0; defined as 1.0 when the observed agreement is 1.
    assert cohens_kappa([("good", "good")] * 5) == 1.0


def test_kappa_is_none_without_pairs() -> None:
    assert cohens_kappa([]) is None


# --- percent agreement --------------------------------------------------------------------


def test_percent_agreement_scores_each_item_by_its_agreeing_pairs() -> None:
    items = {
        1: {"a": "x", "b": "x", "c": "y"},  # 1 of 3 pairs agree
        2: {"a": "x", "b": "x"},  # 1 of 1
        3: {"a": "x"},  # not pairable: ignored
    }
    assert percent_agreement(items) == pytest.approx((1 / 3 + 1) / 2)


def test_percent_agreement_is_none_when_no_item_has_two_labels() -> None:
    assert percent_agreement({}) is None
    assert percent_agreement({1: {"a": "x", "b": None}}) is None


def test_percent_agreement_matches_counting_every_pair_by_hand() -> None:
    rng = random.Random("percent")
    for _ in range(200):
        items = random_items(rng)
        scores = []
        for labels in items.values():
            present = [v for v in labels.values() if v is not None]
            pairs = list(itertools.combinations(present, 2))
            if pairs:
                scores.append(sum(a == b for a, b in pairs) / len(pairs))
        expected = sum(scores) / len(scores) if scores else None
        assert percent_agreement(items) == pytest.approx(expected)


# --- majority, agreement with a reference, disagreement ------------------------------------


def test_majority_is_the_most_common_label() -> None:
    assert majority(["good", "bad", "good"]) == "good"
    assert majority(["good"]) == "good"


def test_majority_is_none_on_a_tie_or_without_labels() -> None:
    assert majority(["good", "bad"]) is None
    assert majority(["a", "a", "b", "b", "c"]) is None
    assert majority([]) is None


def test_majority_labels_can_leave_one_annotator_out() -> None:
    items = {
        1: {"ann": "good", "bo": "good", "cy": "bad"},
        2: {"ann": "bad", "bo": "good", "cy": "good"},
        3: {"ann": "good", "bo": "bad", "cy": "good"},
    }
    assert majority_labels(items) == {1: "good", 2: "good", 3: "good"}
    # Without ann's vote, item 1 and 3 are ties and drop out.
    assert majority_labels(items, excluding="ann") == {2: "good"}


def test_agreement_with_counts_only_items_both_sides_labelled() -> None:
    reference = {1: "good", 2: "bad", 3: "good", 4: None}
    labels = {1: "good", 2: "good", 4: "bad", 5: "bad"}
    assert agreement_with(reference, labels) == pytest.approx(1 / 2)


def test_agreement_with_is_none_when_nothing_is_shared() -> None:
    assert agreement_with({1: "good"}, {2: "good"}) is None
    assert agreement_with({}, {}) is None


def test_an_annotator_can_be_scored_against_the_majority_and_the_ai_judge() -> None:
    items = {
        1: {"ann": "good", "bo": "good", "cy": "good"},
        2: {"ann": "bad", "bo": "good", "cy": "good"},
        3: {"ann": "bad", "bo": "bad", "cy": "good"},
    }
    ann = {item: labels["ann"] for item, labels in items.items()}
    judge = {1: "good", 2: "bad", 3: "good"}
    assert agreement_with(majority_labels(items, excluding="ann"), ann) == pytest.approx(1.0 / 2)
    assert agreement_with(judge, ann) == pytest.approx(2 / 3)


def test_disagreement_is_zero_for_unanimous_or_single_labels() -> None:
    assert disagreement(["good", "good", "good"]) == 0.0
    assert disagreement(["good"]) == 0.0
    assert disagreement([]) == 0.0


def test_disagreement_grows_as_labels_split() -> None:
    assert disagreement(["a", "a", "a", "b"]) == pytest.approx(0.25)
    assert disagreement(["a", "a", "b", "c"]) == pytest.approx(0.5)
    assert disagreement(["a", "b", "c", "d"]) == pytest.approx(0.75)


def test_a_queue_sorted_by_disagreement_puts_the_most_contested_item_first() -> None:
    queue = {
        "calm": ["good", "good", "good"],
        "split": ["good", "bad", "meh"],
        "leaning": ["good", "good", "bad"],
    }
    ordered = sorted(queue, key=lambda item: disagreement(queue[item]), reverse=True)
    assert ordered == ["split", "leaning", "calm"]
