"""The LP ranker (kit/ranking.py): mean token logprob first, a judge or no ranking without it."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from generation.recipes.kit import ranking
from generation.recipes.kit.results import Gen, Judged


def gen(texts: list[str], means: list[float | None] | None) -> Gen:
    return Gen(
        texts=texts,
        finish_reasons=["stop"] * len(texts),
        model="m",
        role="policy",
        template="generate",
        version="builtin:v1",
        mean_logprob=means,
    )


class Judging:
    """What rank() needs of an Item: counts, notes, and a judge that reads scores off a table."""

    def __init__(self, scores: dict[str, float | None]) -> None:
        self.counts: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.scores = scores
        self.asked: list[dict[str, Any]] = []

    def count(self, reason: str, n: int = 1) -> None:
        self.counts[reason] += n

    def note(self, name: str, n: int = 1) -> None:
        self.notes[name] += n

    async def judge(self, template: str, **values: Any) -> Judged:
        self.asked.append({"template": template, **values})
        score = self.scores[values["text"]]
        return Judged(
            score, [] if score is None else [score], [f"Score: {score}"], template, "v1", "j"
        )


def rank(it: Judging, g: Gen, k: int | None = None, **kwargs: Any) -> list[ranking.Ranked]:
    return asyncio.run(ranking.rank(it, g, k, **kwargs))  # type: ignore[arg-type]


def test_choices_are_ranked_by_mean_logprob_and_the_top_k_kept() -> None:
    g = gen(["a", "b", "c", "d"], [-1.5, -0.2, -0.9, -0.2])
    it = Judging({})
    top = rank(it, g, 3)
    assert [r.index for r in top] == [1, 3, 2]  # the tie (-0.2) goes to the earlier choice
    assert [r.score for r in top] == [-0.2, -0.2, -0.9]
    assert {r.source for r in top} == {"logprobs"}
    assert not it.counts and not it.asked


def test_only_the_candidates_given_are_ranked_and_unscored_ones_come_last() -> None:
    g = gen(["a", "b", "", "d", "e"], [-0.1, -2.0, None, -0.5, -0.3])
    top = rank(Judging({}), g, among=[1, 2, 3])
    assert [(r.index, r.score) for r in top] == [(3, -0.5), (1, -2.0), (2, None)]


def test_without_logprobs_the_judge_ranks_and_the_item_counts_it() -> None:
    g = gen(["short", "a good fit", "meh"], None)
    it = Judging({"short": 2.0, "a good fit": 5.0, "meh": None})
    top = rank(it, g, 2, fallback="judge", judge="label_fit", label="positive")
    assert [(r.index, r.score, r.source) for r in top] == [(1, 5.0, "judge"), (0, 2.0, "judge")]
    assert it.notes == {"no_logprobs_judged": 1} and not it.counts
    assert [a["label"] for a in it.asked] == ["positive"] * 3
    judged = ranking.judgement(top[0], g)
    assert judged[0].score == 5.0 and judged[0].rubric_id == "label_fit"


def test_without_logprobs_and_no_judge_the_order_is_kept_unscored_and_counted() -> None:
    g = gen(["x", "y", "z"], None)
    it = Judging({})
    top = rank(it, g, 2, fallback="keep")
    assert [(r.index, r.score, r.source) for r in top] == [
        (0, None, "unranked"),
        (1, None, "unranked"),
    ]
    assert it.notes == {"unranked_no_logprobs": 1} and not it.counts
    assert ranking.judgement(top[0], g) == []


def test_the_judge_method_ignores_logprobs_and_keep_never_ranks() -> None:
    g = gen(["x", "yy"], [-0.1, -3.0])
    it = Judging({"x": 1.0, "yy": 4.0})
    assert [r.index for r in rank(it, g, method="judge", judge="label_fit")] == [1, 0]
    assert [r.index for r in rank(it, g, method="keep")] == [0, 1]
    assert not it.counts


def test_a_logprob_rank_becomes_a_mean_logprob_judgement_for_review() -> None:
    g = gen(["x"], [-0.25])
    (top,) = rank(Judging({}), g)
    (row,) = ranking.judgement(top, g)
    assert (row.rubric_id, row.score, row.judge_model) == ("mean_logprob", -0.25, "m")
