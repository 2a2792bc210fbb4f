"""Evol-Instruct (#11): lineage across rounds, elimination, re-queued parents, uniform ops."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.evol_instruct import OPERATORS, Params
from generation.recipes.evol_instruct_rules import eliminate, equality
from generation.runs.models import RunItem, RunStatus

SEEDS = (
    b'{"instruction": "Write a haiku about autumn leaves.", "input": "", "output": "x"}\n'
    b'{"instruction": "Explain why the sky is blue.", "input": "", "output": "x"}\n'
    b'{"instruction": "List three uses of vinegar at home.", "input": "", "output": "x"}\n'
)


def parent_of(body: dict[str, Any]) -> str:
    return re.search(r"<<<\n(.*?)\n>>>", body["messages"][-1]["content"], re.S).group(1)


def test_the_elimination_rules() -> None:
    assert eliminate("#Rewritten Prompt#: Explain why...", None) == "copied_template_words"
    assert eliminate("Rewrite the given prompt so that...", None) == "copied_template_words"
    assert (
        eliminate("Explain why the sky is blue at noon.", "Sorry, I cannot help.") == "sorry_short"
    )
    long_sorry = "Sorry for the wait. " + "Rayleigh scattering explains it. " * 30
    assert eliminate("Explain why the sky is blue at noon.", long_sorry) is None
    assert eliminate("Explain why the sky is blue at noon.", "... the, and !") == (
        "response_only_stopwords"
    )


def test_the_banned_phrases_cover_our_own_prompts_and_follow_an_override() -> None:
    for text in (
        "Created Prompt: x y z",
        "#Created Prompt# x",
        "Rewritten version: x",
        "Original prompt was x",
        "New prompt: x",
    ):
        assert eliminate(text, None) == "copied_template_words", text
    assert eliminate("Explain the forbidden fruit.", None) is None
    assert eliminate("Explain the forbidden fruit.", None, ["forbidden"]) == (
        "copied_template_words"
    )
    assert eliminate("New prompt: x", None, ["forbidden"]) is None


def test_the_equality_verdict_parses_equal_not_equal_or_nothing() -> None:
    assert equality("Equal") is True
    assert equality("Not Equal.") is False
    assert equality("They look similar to me") is None


def test_the_reference_sampling_settings_are_the_defaults() -> None:
    p = Params()
    assert (p.temperature, p.top_p) == (1.0, 0.95)


def test_operators_are_picked_uniformly() -> None:
    picks = Counter(random.Random(f"7:ev:r0:s{i}").choice(OPERATORS) for i in range(6000))
    assert set(picks) == set(OPERATORS)
    assert all(850 <= n <= 1150 for n in picks.values()), picks


@pytest.mark.django_db(transaction=True)
def test_three_seeds_two_rounds_keep_lineage_and_requeue_eliminated_parents(
    bench: Any, fake_llm: Any
) -> None:
    seed_set = import_seed_set(bench.owner, bench.project, name="Three", data=SEEDS)

    def evolve(body: dict[str, Any]) -> str:
        parent = parent_of(body)
        if parent.startswith("Write a haiku"):
            return "#Rewritten Prompt#: " + parent  # rule (d): eliminated in round 0
        return f"{parent} Also justify each step in detail."

    fake_llm.script(r"^Here are two instructions", "Not Equal")
    fake_llm.script(r"Original:\n<<<", evolve)
    fake_llm.script(r"vinegar.*justify each step in detail\.\s*$", "Sorry, I cannot do that.")
    fake_llm.script(
        r"justify each step in detail\.\s*$",
        lambda body: "A full answer: " + body["messages"][-1]["content"][:60],
    )
    run = bench.start("evol_instruct", 50, seed_set=seed_set, params={"rounds": 2})
    assert run.status == RunStatus.COMPLETED, run.last_error
    seeds = {s.payload["instruction"]: s.pk for s in seed_set.seeds.all()}

    round0 = list(Sample.objects.filter(run=run, extra__round=0))
    round1 = list(Sample.objects.filter(run=run, extra__round=1))
    # Round 0: only the sky seed survives (haiku copies template words; vinegar's answer is
    # a short "sorry").
    assert [s.extra["parent_instruction"] for s in round0] == ["Explain why the sky is blue."]
    assert round0[0].parent_id is None
    assert round0[0].seed_ids == [seeds["Explain why the sky is blue."]]
    assert round0[0].extra["op"] in OPERATORS
    eliminated = dict(
        RunItem.objects.filter(run=run, work_key__startswith="ev:r0:")
        .exclude(outcome="produced")
        .values_list("reason", "work_key")
    )
    assert set(eliminated) == {"copied_template_words", "sorry_short"}
    # Round 1: the sky sample is a parent, and both eliminated seeds came back as parents.
    round1_items = RunItem.objects.filter(run=run, work_key__startswith="ev:r1:")
    parents = {s.extra["parent_instruction"] for s in round1} | {
        i.payload["parent_instruction"] for i in round1_items.exclude(outcome="produced")
    }
    assert round0[0].extra["instruction"] in parents
    assert "Write a haiku about autumn leaves." in parents
    assert "List three uses of vinegar at home." in parents
    from_sample = next(s for s in round1 if s.extra["parent_key"] == round0[0].work_key)
    assert from_sample.parent_id == round0[0].pk
    assert from_sample.seed_ids == round0[0].seed_ids  # the root seed carries through
    assert "ran out of work" in run.last_error  # 2 rounds done, below the target of 50


@pytest.mark.django_db(transaction=True)
def test_an_unparsable_equality_verdict_drops_the_rewrite(bench: Any, fake_llm: Any) -> None:
    seed_set = import_seed_set(bench.owner, bench.project, name="Three", data=SEEDS)
    fake_llm.script(r"^Here are two instructions", "Hmm, hard to say.")
    fake_llm.script(r"Original:\n<<<", lambda body: parent_of(body) + " Justify it.")
    fake_llm.script(r"Justify it\.\s*$", "A long and careful answer.")
    run = bench.start("evol_instruct", 3, seed_set=seed_set, params={"rounds": 1})
    assert run.produced == 0
    assert run.filtered == {"unparsable_equality": 3}


@pytest.mark.django_db(transaction=True)
def test_two_parents_that_evolve_into_the_same_text_do_not_crash_the_run(
    bench: Any, fake_llm: Any
) -> None:
    seed_set = import_seed_set(bench.owner, bench.project, name="Three", data=SEEDS)
    fake_llm.script(r"^Here are two instructions", "Not Equal")
    fake_llm.script(r"Original:\n<<<", "Describe the water cycle for a ten-year-old.")
    fake_llm.script(r"water cycle for a ten-year-old\.\s*$", "Water evaporates, then rains.")
    run = bench.start("evol_instruct", 10, seed_set=seed_set, params={"rounds": 3})
    assert run.status in (RunStatus.COMPLETED, RunStatus.FAILED), run.last_error
    assert "Error" not in run.last_error  # ended by a rule, not by an exception
    assert run.produced == 1
    assert run.filtered["exact_duplicate"] >= 2
