"""APIGen (#45): the toy `add(a:int, b:int)` through the three stages, and out as BFCL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.exports.services import import_dataset
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.runs.models import RunItem, RunStatus, ToolResponse
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.factories import ProjectFactory
from tests.generation.cases.apigen import ADD, GENERATE, SEMANTIC, pairs

# The toy library: add refuses negative numbers, so a call can raise at stage 2.
RAISING_ADD = ADD | {
    "implementation": "def add(a, b):\n    if a < 0:\n        raise ValueError('a must not be "
    "negative')\n    return a + b\n",
    "examples": [
        {"query": "What is 1 plus 1?", "answers": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}
    ],
}
ONE = {"n_queries": 1, "query_styles": ["simple"]}


def toy_seeds(bench: Any) -> Any:
    data = json.dumps(RAISING_ADD).encode()
    return import_seed_set(bench.owner, bench.project, name="Toy API", data=data)


def generating(
    fake: Any, *calls: tuple[str, dict[str, Any]], verdicts: Any = "Verdict: yes"
) -> None:
    fake.script(GENERATE, pairs(*calls))
    fake.script(SEMANTIC, verdicts)


def judge_requests(fake: Any) -> list[dict[str, Any]]:
    return [b for b in fake.requests if 'Verdict: yes" or' in b["messages"][-1]["content"]]


@pytest.mark.django_db(transaction=True)
def test_add_2_and_3_passes_all_three_stages_and_round_trips_through_bfcl(
    bench: Any, fake_llm: Any
) -> None:
    generating(fake_llm, ("add 2 and 3", {"a": 2, "b": 3}))
    run = bench.start("apigen", 1, seed_set=toy_seeds(bench), params=ONE)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.kind == "tool_trajectory"
    user, assistant, tool = sample.messages
    assert user == {"role": "user", "content": "add 2 and 3"}
    (call,) = assistant["tool_calls"]
    assert call["function"]["name"] == "add" and json.loads(call["function"]["arguments"]) == {
        "a": 2,
        "b": 3,
    }
    assert tool == {"role": "tool", "tool_call_id": call["id"], "content": "5"}
    assert [t["function"]["name"] for t in sample.tools] == ["add"]
    meta = sample.extra["metadata"]
    assert meta["style"] == "simple" and meta["stage1_format"]["valid"] is True
    assert meta["stage2_execution"] == [
        {"name": "add", "source": "implementation", "origin": "implementation", "ok": True}
    ]
    assert meta["stage3_semantic"] == {"score": 1.0, "votes": [1.0, 1.0]}
    # The seed's QA example was shown to the generator.
    (generated,) = [
        b for b in fake_llm.requests if "write training data" in b["messages"][-1]["content"]
    ]
    assert "What is 1 plus 1?" in generated["messages"][-1]["content"]
    # Accepted, exported as BFCL, imported again: the same item.
    sample.status = "accepted"
    sample.save(update_fields=["status"])
    export = export_now(bench.owner, bench.project, format="bfcl")
    (row,) = jsonl_rows(export)
    assert row["question"] == [[{"role": "user", "content": "add 2 and 3"}]]
    assert row["ground_truth"] == [{"add": {"a": [2], "b": [3]}}]
    assert [f["name"] for f in row["function"]] == ["add"]
    elsewhere = ProjectFactory(name="Elsewhere")
    data = path_of(export, "train.jsonl").read_bytes()
    result = import_dataset(bench.owner, elsewhere, data=data, filename="train.jsonl")
    assert (result["format"], result["imported"]) == ("bfcl", 1)
    (back,) = Sample.objects.filter(project=elsewhere)
    assert back.messages[0] == user
    assert [json.loads(c["function"]["arguments"]) for c in back.messages[-1]["tool_calls"]] == [
        {"a": 2, "b": 3}
    ]
    assert back.extra["bfcl"]["ground_truth"] == row["ground_truth"]


@pytest.mark.django_db(transaction=True)
def test_a_call_missing_b_is_rejected_at_stage_1_and_never_executed(
    bench: Any, fake_llm: Any
) -> None:
    generating(fake_llm, ("add 2 and something", {"a": 2}))
    run = bench.start("apigen", 1, seed_set=toy_seeds(bench), params=ONE, futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 0
    items = RunItem.objects.filter(run=run, outcome="filtered")
    assert {i.reason for i in items} == {"stage1_format"}
    assert "required parameter 'b' is missing" in items.first().detail  # type: ignore[union-attr]
    assert not ToolResponse.objects.exists() and judge_requests(fake_llm) == []


@pytest.mark.django_db(transaction=True)
def test_a_call_that_raises_is_rejected_at_stage_2_and_never_judged(
    bench: Any, fake_llm: Any
) -> None:
    generating(fake_llm, ("add -1 and 3", {"a": -1, "b": 3}))
    run = bench.start("apigen", 1, seed_set=toy_seeds(bench), params=ONE, futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 0
    items = RunItem.objects.filter(run=run, outcome="filtered")
    assert {i.reason for i in items} == {"stage2_execution"}
    assert "ValueError: a must not be negative" in items.first().detail  # type: ignore[union-attr]
    assert not ToolResponse.objects.exists()  # errors are not cached
    assert judge_requests(fake_llm) == []


@pytest.mark.django_db(transaction=True)
def test_of_three_pairs_only_the_one_that_passes_every_stage_becomes_a_sample(
    bench: Any, fake_llm: Any
) -> None:
    generating(
        fake_llm,
        ("add 2", {"a": 2}),
        ("add -1 and 3", {"a": -1, "b": 3}),
        ("add 2 and 3", {"a": 2, "b": 3}),
    )
    params = {"n_queries": 3, "query_styles": ["simple"]}
    run = bench.start("apigen", 1, seed_set=toy_seeds(bench), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.messages[0]["content"] == "add 2 and 3" and sample.work_key.endswith(":q2")
    assert run.filtered == {"stage1_format": 1, "stage2_execution": 1}


@pytest.mark.django_db(transaction=True)
def test_a_split_semantic_vote_rejects_at_stage_3(bench: Any, fake_llm: Any) -> None:
    generating(
        fake_llm,
        ("add 2 and 3", {"a": 2, "b": 3}),
        verdicts=lambda _b: ["Verdict: yes", "It adds the wrong numbers.\nVerdict: no"],
    )
    run = bench.start("apigen", 1, seed_set=toy_seeds(bench), params=ONE, futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert {i.reason for i in RunItem.objects.filter(run=run, outcome="filtered")} == {
        "stage3_semantic"
    }
    assert ToolResponse.objects.get().response == "5"  # stage 2 ran and was cached
