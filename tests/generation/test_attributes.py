"""The attribute sampler: a requested mix in, items that follow it out, the same on replay."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from generation.recipes.kit import attributes as attrs

MIX = "difficulty: easy=3, hard=1; topic: sports, cooking, travel"


def shares(picks: list[dict[str, str]], name: str) -> dict[str, float]:
    counts = Counter(p[name] for p in picks)
    return {value: n / len(picks) for value, n in counts.items()}


def test_a_spec_reads_values_weights_and_equal_shares() -> None:
    difficulty, topic = attrs.parse(MIX)
    assert difficulty.name == "difficulty" and difficulty.values == ("easy", "hard")
    assert difficulty.shares == pytest.approx((0.75, 0.25))
    assert topic.shares == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert attrs.parse(attrs.show([difficulty, topic])) == [difficulty, topic]
    assert attrs.parse("tone: formal=50%, casual=50%")[0].shares == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize(
    "spec", ["no colon here", "topic:", "topic: =2", "a: x; a: y", "a: x=0, y=0"]
)
def test_a_spec_that_does_not_read_says_why(spec: str) -> None:
    with pytest.raises(ValueError):
        attrs.parse(spec)


def test_2000_spread_items_match_the_mix_and_its_combinations() -> None:
    mix = attrs.parse(MIX)
    picks = [attrs.spread(mix, k, "run-1") for k in range(2000)]
    assert shares(picks, "difficulty") == pytest.approx({"easy": 0.75, "hard": 0.25}, abs=0.01)
    assert shares(picks, "topic") == pytest.approx(dict.fromkeys(mix[1].values, 1 / 3), abs=0.01)
    joint = Counter((p["difficulty"], p["topic"]) for p in picks)
    assert joint[("hard", "travel")] / 2000 == pytest.approx(0.25 / 3, abs=0.015)
    assert joint[("easy", "sports")] / 2000 == pytest.approx(0.75 / 3, abs=0.015)


def test_even_twenty_spread_items_are_within_one_item_of_the_mix() -> None:
    mix = attrs.parse("difficulty: easy=3, hard=1")
    picks = [attrs.spread(mix, k, "run-7") for k in range(20)]
    assert abs(Counter(p["difficulty"] for p in picks)["easy"] - 15) <= 1


def test_2000_independent_draws_match_the_mix_within_sampling_noise() -> None:
    mix = attrs.parse(MIX)
    rng = random.Random(4)
    picks = [attrs.draw(mix, rng) for _ in range(2000)]
    # 3 standard deviations of a share over 2000 draws is under 3.3 points.
    assert shares(picks, "difficulty") == pytest.approx({"easy": 0.75, "hard": 0.25}, abs=0.033)


class FakeItem:
    """Enough of kit.Item for `sample`: its key, payload, run id and a journaled SAMPLE."""

    def __init__(self, key: str, payload: Any, journal: list[Any] | None = None) -> None:
        self.key, self.payload = key, payload
        self.host = SimpleNamespace(run_id=9)
        self.journal = journal if journal is not None else []

    async def sample(self, pool: list[Any], k: int) -> list[Any]:
        if self.journal:
            return list(self.journal)
        self.journal.extend(pool[:k])
        return pool[:k]


def test_an_item_samples_by_index_and_a_resumed_item_keeps_its_journaled_combination() -> None:
    mix = attrs.parse(MIX)
    first = FakeItem("dg:5", 5)
    combination = asyncio.run(attrs.sample(first, mix))
    assert combination == attrs.spread(mix, 5, "9")
    # The attribute set changed since (a new spec): the journal still wins on resume.
    other = attrs.parse("difficulty: medium; topic: music")
    assert asyncio.run(attrs.sample(FakeItem("dg:5", 5, first.journal), other)) == combination


def test_an_unnumbered_item_draws_the_same_combination_every_time() -> None:
    mix = attrs.parse(MIX)
    a = asyncio.run(attrs.sample(FakeItem("dg:x", {"seed": 1}), mix))
    assert a == asyncio.run(attrs.sample(FakeItem("dg:x", {"seed": 1}), mix))
    assert set(a) == {"difficulty", "topic"}


def test_attributes_survive_a_json_round_trip() -> None:
    mix = attrs.parse(MIX)
    assert attrs.from_json(attrs.to_json(mix)) == mix
