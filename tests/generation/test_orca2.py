"""Orca 2 (#10): a teacher answers under a strategy prompt; the rows keep a generic one."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.projects.models import LLMCall
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.recipes.orca2_strategies import choose, fallbacks
from generation.runs.models import Run, RunStatus
from tests.exports.helpers import export_now, jsonl_rows

QA = [("A baker bakes 4 trays of 12 muffins. How many muffins?", "48"),
      ("What is the capital city of France?", "Paris")]  # fmt: skip
GENERIC = "You are a helpful assistant."
STEP = "one small step per line"  # words of the step-by-step strategy prompt only


def teacher(body: dict[str, Any]) -> str:
    """Right answers, except that step by step gets the capital wrong."""
    system, question = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "muffins" in question:
        return "4 trays of 12 is 4 x 12 = 48.\nThe answer is: 48"
    if STEP in system:
        return "Step 1: it is a big city.\nThe answer is: Lyon"
    return "France's capital is Paris.\nThe answer is: Paris"


def start(bench: Any, rows: list[tuple[str, str]] = QA, **kwargs: Any) -> Run:
    data = "\n".join(json.dumps({"question": q, "answer": a}) for q, a in rows).encode()
    name = f"QA {bench.project.seed_sets.count()}"
    seed_set = import_seed_set(bench.owner, bench.project, name=name, data=data)
    return bench.start("orca2", 10, seed_set=seed_set, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_a_step_by_step_sample_is_exported_with_only_the_generic_system_prompt(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"muffins|capital", teacher)
    run = start(bench, QA[:1], params={"strategy": "step_by_step"})
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.messages == [
        {"role": "system", "content": GENERIC},
        {"role": "user", "content": QA[0][0]},
        {"role": "assistant", "content": "4 trays of 12 is 4 x 12 = 48.\nThe answer is: 48"},
    ]
    # What the teacher was asked with is kept beside the row, not in it.
    (asked,) = fake_llm.requests
    strategy_prompt = asked["messages"][0]["content"]
    assert asked["messages"][0]["role"] == "system" and STEP in strategy_prompt
    assert sample.extra["erased_system_prompt"] == strategy_prompt
    assert sample.extra["metadata"]["strategy"] == "step_by_step"
    assert sample.extra["gold"] == "48" and sample.extra["correct"] is True
    assert not any(STEP in str(m["content"]) for m in sample.messages)
    # The export writes the generic prompt only.
    export = export_now(
        bench.owner, bench.project, format="openai",
        filters={"statuses": ["pending"], "run_ids": [run.pk]},
    )  # fmt: skip
    (row,) = jsonl_rows(export)
    assert row["messages"][0] == {"role": "system", "content": GENERIC}
    assert STEP not in json.dumps(row)
    # The generation log keeps the call: the LLMCall row, and the lineage names the
    # teacher's template; the strategy prompt's version is in the metadata.
    assert LLMCall.objects.filter(run=run, purpose="generate").count() == 1
    (call,) = sample.extra["lineage"]["calls"]
    assert call["role"] == "teacher" and call["template"] == "task"
    assert sample.extra["metadata"]["strategy_prompt_version"] == "builtin:v1"


@pytest.mark.django_db(transaction=True)
def test_a_miss_tries_the_next_strategy_and_without_retries_the_miss_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"muffins|capital", teacher)
    run = start(bench, params={"strategy": "step_by_step"})
    capital = Sample.objects.get(run=run, extra__gold="Paris")
    meta = capital.extra["metadata"]
    assert meta["strategy"] == "recall_reason_generate"
    assert [t["strategy"] for t in meta["tried"]] == ["step_by_step", "recall_reason_generate"]
    assert [t["correct"] for t in meta["tried"]] == [False, True]
    assert STEP not in capital.extra["erased_system_prompt"]  # the prompt that worked
    strict = start(bench, QA[1:], params={"strategy": "step_by_step", "strategy_retries": 0})
    assert strict.produced == 0 and strict.filtered == {"wrong_answer": 1}
    assert "wrong_answer (1)" in strict.last_error


@pytest.mark.django_db(transaction=True)
def test_auto_picks_by_rule_and_the_teacher_role_has_its_own_endpoint(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"muffins|capital", teacher)
    big = project_services.save_endpoint(
        bench.owner, bench.project, name="teacher", base_url=fake_llm.base_url,
        chat_model="big-teacher", max_concurrency=4,
    )  # fmt: skip
    run = start(bench, endpoints={"teacher": big})
    assert run.status == RunStatus.COMPLETED, run.last_error
    strategies = {s.extra["gold"]: s.extra["metadata"]["strategy"] for s in run.samples.all()}
    assert strategies == {"48": "step_by_step", "Paris": "recall_then_generate"}
    assert {r["model"] for r in fake_llm.requests} == {"big-teacher"}
    assert {s.model for s in run.samples.all()} == {"big-teacher"}  # who wrote it
    assert run.endpoints["teacher"] == big.pk and run.endpoints["policy"] == bench.endpoint.pk


@pytest.mark.django_db(transaction=True)
def test_instructions_without_gold_are_kept_unchecked(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r"poem", "Waves fold in silver light.")
    data = json.dumps({"instruction": "Write a short poem about the sea.", "output": "x"})
    seed_set = import_seed_set(bench.owner, bench.project, name="Poem", data=data.encode())
    run = bench.start("orca2", 1, seed_set=seed_set, params={"generic_system_prompt": ""})
    sample = run.samples.get()
    assert sample.messages[0]["role"] == "user"  # no generic prompt asked for: none stored
    assert "gold" not in sample.extra and sample.extra["metadata"]["strategy"] == "direct_answer"
    assert "The answer is" not in sample.extra["erased_system_prompt"]


def qa(question: str, answer: str) -> SeedRow:
    return SeedRow(1, "qa", {"question": question, "answer": answer}, question)


def instruction(text: str, given: str = "", classification: bool = False) -> SeedRow:
    payload = {"instruction": text, "instances": [{"input": given, "output": "x"}],
               "is_classification": classification}  # fmt: skip
    return SeedRow(1, "instruction", payload, text)


@pytest.mark.parametrize(
    ("seed", "strategy"),
    [
        (qa("Tom has 35 marbles and gives 9 away. How many are left?", "26"), "step_by_step"),
        (qa("Which planet is closest to the Sun?", "Mercury"), "recall_then_generate"),
        (qa("Why do leaves turn red in autumn?", "less chlorophyll"), "recall_reason_generate"),
        (instruction("Summarise the news item.", " ".join(["word"] * 30)), "extract_generate"),
        (instruction("Classify the review.", "Great!", classification=True), "direct_answer"),
        (instruction("Write a haiku about rain."), "direct_answer"),
    ],
)
def test_the_auto_rule_picks_a_strategy_by_the_task(seed: SeedRow, strategy: str) -> None:
    assert choose(seed)[0] == strategy


def test_retries_follow_the_preference_order_without_repeating_the_first() -> None:
    assert fallbacks("recall_then_generate", 2) == [
        "recall_then_generate", "step_by_step", "recall_reason_generate",
    ]  # fmt: skip
    assert fallbacks("direct_answer", 0) == ["direct_answer"]
    assert re.fullmatch(r"\w+", fallbacks("step_by_step", 1)[1])
