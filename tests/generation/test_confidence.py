"""How sure a judge is: spread of its samples, two judges, both orders of a pairwise verdict."""

from __future__ import annotations

import pytest

from generation.recipes.kit import confidence
from generation.recipes.kit.fmt import judgement
from generation.recipes.kit.results import Judged, PairVerdict


def judged(scores: list[float], maximum: float = 5.0) -> Judged:
    return Judged(sum(scores) / len(scores), scores, ["Score"], "r", "1", "m", maximum)


def test_agreeing_samples_are_sure_and_opposite_ones_are_not() -> None:
    assert judged([4, 4, 4]).confidence == 1.0
    assert judged([0, 5]).confidence == 0.0
    assert judged([3, 4, 5]).confidence == pytest.approx(0.673, abs=1e-3)
    assert judged([8, 10], maximum=10).confidence == pytest.approx(0.8)


def test_one_sample_says_nothing_about_how_sure_it_is() -> None:
    assert judged([5]).confidence is None
    assert confidence.of_samples([], 5.0) is None


def test_two_judges_are_as_sure_as_they_agree() -> None:
    assert confidence.of_two(4, 4, 5) == 1.0
    assert confidence.of_two(5, 0, 5) == 0.0
    assert confidence.of_two(4, None, 5) is None


def test_a_pairwise_verdict_that_flips_with_order_is_not_sure() -> None:
    both = PairVerdict(1.0, [1.0, 1.0], ["A", "B"], "text", "1", "m")
    flipped = PairVerdict(0.5, [1.0, 0.0], ["A", "A"], "text", "1", "m")
    soft = PairVerdict(0.85, [0.9, 0.8], ["A", "B"], "logprobs", "1", "m")
    one_hard = PairVerdict(1.0, [1.0], ["A"], "text", "1", "m")
    assert (both.confidence, flipped.confidence) == (1.0, 0.0)
    assert soft.confidence == pytest.approx(0.7)
    assert one_hard.confidence is None


def test_a_sample_is_as_sure_as_its_least_sure_judgement() -> None:
    assert confidence.lowest([0.9, 0.4, 1.0]) == 0.4
    assert confidence.lowest([0.9, None]) is None
    assert confidence.lowest([]) is None


def test_the_judgement_row_carries_the_confidence_unless_given() -> None:
    assert judgement("chosen", judged([5, 5, 2])).confidence == pytest.approx(0.434, abs=1e-3)
    assert judgement("chosen", judged([5]), confidence=0.7).confidence == 0.7


def test_an_old_journal_entry_without_a_scale_reads_back_on_five_points() -> None:
    old = {"score": 4.0, "scores": [4.0, 4.0], "raw": [], "rubric": "r", "version": "1",
           "model": "m"}  # fmt: skip
    assert Judged.from_json(old).maximum == 5.0 and Judged.from_json(old).confidence == 1.0
