"""Tag-Evol (#13): pooled knowledge tags injected by budget, judged for coverage and solvability."""

from __future__ import annotations

import json
import re
import statistics
from typing import Any

import numpy as np
import pytest

from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.kit.parse import unwrap
from generation.recipes.kit.tags import normalise
from generation.recipes.tag_evol import parse_verdict
from generation.runs.models import RunItem, RunPoolEntry, RunStatus

TAGS = {
    "Solve 2x + 3 = 7 for x.": ["Linear equations", "inverse operations", "integers"],
    "How far does a car go in 3 hours at 50 km/h?": [
        "linear equation",
        "unit rates",
        "distance formula",
        "multiplication",
        "unit conversion",
    ],
    "Write a limerick about a cat.": ["limerick form", "AABBA rhyme", "anapestic meter"],
}
SEEDS = "\n".join(json.dumps({"instruction": s, "output": "x"}) for s in TAGS).encode()
_SEED = re.compile(r"<<<\n(.*?)\n>>>", re.S)
_LISTED = re.compile(r"^- (.+)$", re.M)
_NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.M)


def tagger(body: dict[str, Any]) -> str:
    return json.dumps(TAGS[_SEED.search(body["messages"][-1]["content"]).group(1)])


def rewrite(body: dict[str, Any]) -> str:
    """Longer with every tag injected: the seed, then one clause per tag."""
    text = body["messages"][-1]["content"]
    seed, needed = _SEED.search(text).group(1), _LISTED.findall(text)
    return "Rewritten instruction: " + seed + "".join(f" Also apply {t}." for t in needed)


def judge_saying(solvable: str = "yes", first: str = "yes") -> Any:
    """Yes for each numbered tag the instruction names (the first one: `first`)."""

    def judge(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        instruction = _SEED.search(text).group(1)
        said = [(i, "yes" if t in instruction else "no") for i, t in _NUMBERED.findall(text)]
        lines = [f"{i}: {first if i == '1' else ok}" for i, ok in said]
        return "\n".join([*lines, f"Solvable: {solvable}"])

    return judge


def script(fake: Any, judge: Any) -> None:
    fake.script(r"^List the fine-grained knowledge tags", tagger)
    fake.script(r"^Rewrite the instruction below", rewrite)
    fake.script(r"^Check a rewritten instruction", judge)
    fake.script(r"Also apply .+\.\s*$", "Here is the worked answer.")


def start(bench: Any, **params: Any) -> Any:
    seed_set = import_seed_set(bench.owner, bench.project, name="Three", data=SEEDS)
    return bench.start("tag_evol", 20, seed_set=seed_set, params=params)


def test_the_judge_verdict_reads_each_tag_and_solvability() -> None:
    assert parse_verdict("1: yes\n2: **no**\nSolvable: yes", 2) == ([True, False], True)
    assert parse_verdict("Tag 1 - covered\n2. not covered\nsolvable - no", 2) == (
        [True, False],
        False,
    )
    assert parse_verdict("1: yes\nSolvable: yes", 2) is None  # tag 2 unanswered
    assert parse_verdict("1: yes\n2: yes", 2) is None  # no solvability


def test_a_rewrite_loses_the_wrapping_a_model_adds() -> None:
    assert unwrap('```\nRewritten instruction: "Solve it."\n```') == "Solve it."
    assert unwrap("<<<\nSolve it twice.\n>>>") == "Solve it twice."


@pytest.mark.django_db(transaction=True)
def test_budget_three_rewrites_cover_three_pooled_tags_and_rows_store_tags_and_budget(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, judge_saying())
    run = start(bench, budgets=[1, 3])
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 6
    by_budget = {b: [s for s in samples if s.extra["metadata"]["budget"] == b] for b in (1, 3)}
    assert len(by_budget[1]) == len(by_budget[3]) == 3
    for s in by_budget[3]:
        instruction = s.messages[0]["content"]
        assert len(s.extra["tags"]) == 3 and all(t in instruction for t in s.extra["tags"])
        assert not set(s.extra["tags"]) & set(s.extra["metadata"]["seed_tags"])
        assert s.extra["metadata"]["coverage"] == {"covered": 3, "of": 3, "solvable": True}
        assert Judgement.objects.get(sample=s).score == 1.0
    lengths = {
        b: statistics.fmean(len(s.messages[0]["content"]) for s in by_budget[b]) for b in by_budget
    }
    assert lengths[3] > lengths[1]
    # "Linear equations" and "linear equation" are one tag in the pool.
    pooled = list(RunPoolEntry.objects.filter(run=run, pool="tags").values_list("text", flat=True))
    assert len(pooled) == len(set(pooled)) == 10
    assert "linear equation" in pooled and "linear equations" not in pooled


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("judge", "reason"),
    [
        (judge_saying(solvable="no"), "unsolvable"),
        (judge_saying(first="no"), "tags_not_covered"),
        (lambda body: "They look fine to me.", "unparsable_judgement"),
    ],
)
def test_an_uncovered_tag_or_an_unsolvable_rewrite_is_dropped(
    bench: Any, fake_llm: Any, judge: Any, reason: str
) -> None:
    script(fake_llm, judge)
    run = start(bench, budgets=[5])
    assert run.produced == 0 == Sample.objects.filter(run=run).count()
    assert RunItem.objects.filter(run=run, reason=reason).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_budget_larger_than_the_pool_beyond_the_seeds_own_tags_drops_the_rewrite(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, judge_saying())
    run = start(bench, budgets=[8])  # each seed sees 10 - (3 or 5) other tags: 7 or 5
    assert run.produced == 0
    assert RunItem.objects.filter(run=run, reason="tag_pool_too_small").count() == 3


FIRST_WORDS = sorted({normalise(t).split()[0] for tags in TAGS.values() for t in tags})


class FirstWord:
    """A fake embedder: texts with the same first word are the same vector."""

    name, dim = "first-word", len(FIRST_WORDS)

    def encode(self, texts: list[str]) -> Any:
        axes = np.eye(self.dim, dtype=np.float32)
        return np.array([axes[FIRST_WORDS.index(t.split()[0])] for t in texts])


@pytest.mark.django_db(transaction=True)
def test_tags_can_merge_by_embedding_cosine(bench: Any, fake_llm: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("generation.recipes.kit.pools.local", FirstWord)
    script(fake_llm, judge_saying())
    run = start(bench, budgets=[1], merge="embedding")
    assert run.status == RunStatus.COMPLETED, run.last_error
    pooled = list(RunPoolEntry.objects.filter(run=run, pool="tags").values_list("text", flat=True))
    # "unit conversion" is lexically new but the same vector as "unit rate": merged.
    assert "unit rate" in pooled and "unit conversion" not in pooled and len(pooled) == 9
    for s in Sample.objects.filter(run=run):
        assert set(s.extra["tags"]) <= set(pooled)
