"""DEDUP-E as a recipe step: Evol-Instruct drops (or flags) evolved near-copies."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np
import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.kit.pools import Admitted, EmbeddingPool
from generation.runs.models import RunItem, RunStatus

SEEDS = (
    b'{"instruction": "Write a haiku about autumn leaves.", "input": "", "output": "x"}\n'
    b'{"instruction": "Compose a haiku on falling autumn leaves.", "input": "", "output": "x"}\n'
    b'{"instruction": "List three uses of vinegar at home.", "input": "", "output": "x"}\n'
)


class Axis:
    """A fake embedder: each text is the unit vector of the axis its first letter picks."""

    name, dim = "axis", 4

    def encode(self, texts: list[str]) -> Any:
        return np.array([np.eye(4, dtype=np.float32)[ord(t[0]) % 4] for t in texts])


def test_the_pool_keeps_the_first_and_reports_the_nearest_for_a_copy() -> None:
    pool = EmbeddingPool("p", 0.95, Axis())
    admitted: list[Admitted] = []
    assert asyncio.run(pool.admit("k1", "a first", admitted)).novel
    assert asyncio.run(pool.admit("k2", "b other", admitted)).novel
    verdict = asyncio.run(pool.admit("k3", "a copy", admitted))
    assert not verdict.novel and verdict.nearest == "k1" and verdict.score == 1.0
    assert pool.keys == ["k1", "k2"]  # a duplicate does not join the pool
    assert [a.key for a in admitted] == ["k1", "k2"]  # what the next flush stores


def test_a_pool_loaded_from_stored_vectors_needs_no_embedding() -> None:
    first = EmbeddingPool("p", 0.95, Axis())
    admitted: list[Admitted] = []
    asyncio.run(first.admit("k1", "a first", admitted))

    class NoEncode(Axis):
        calls = 0

        def encode(self, texts: list[str]) -> Any:
            NoEncode.calls += len(texts)
            return super().encode(texts)

    later = EmbeddingPool("p", 0.95, NoEncode())
    for a in admitted:
        later.load(a.key, a.text, a.vector)
    assert NoEncode.calls == 0  # the next slice reloads vectors, it does not re-embed
    assert not asyncio.run(later.admit("k2", "a copy", [])).novel
    assert NoEncode.calls == 1  # only the new text


def _evolve(body: dict[str, Any]) -> str:
    parent = re.search(r"<<<\n(.*?)\n>>>", body["messages"][-1]["content"], re.S).group(1)
    if "haiku" in parent:  # the two haiku seeds evolve into near-copies
        tail = " Thanks!" if parent.startswith("Compose") else ""
        return "Write a haiku about autumn leaves drifting down a quiet river at dusk." + tail
    return parent + " Explain why each use works, chemically."


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["drop", "flag"])
def test_evol_instruct_drops_or_flags_near_copies(bench: Any, fake_llm: Any, mode: str) -> None:
    seed_set = import_seed_set(bench.owner, bench.project, name="Three", data=SEEDS)
    fake_llm.script(r"^Here are two instructions", "Not Equal")
    fake_llm.script(r"Original:\n<<<", _evolve)
    fake_llm.script(r"dusk\.( Thanks!)?\s*$", "Leaves drift, the river hums, dusk settles in.")
    fake_llm.script(r"chemically\.\s*$", "Acetic acid dissolves scale and grease.")
    run = bench.start("evol_instruct", 10, seed_set=seed_set, params={"rounds": 1, "dedup_e": mode})
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    haikus = [s for s in samples if "haiku" in s.extra["instruction"]]
    if mode == "drop":
        assert len(samples) == 2 and len(haikus) == 1
        assert RunItem.objects.filter(run=run, reason="near_duplicate").count() == 1
        assert run.filtered.get("near_duplicate") == 1
    else:
        assert len(samples) == 3 and len(haikus) == 2
        flagged = [s for s in samples if "dedup_e" in s.extra]
        assert len(flagged) == 1 and flagged[0] in haikus
        assert flagged[0].extra["dedup_e"]["cosine"] >= 0.95
        assert not RunItem.objects.filter(run=run, reason="near_duplicate").exists()
