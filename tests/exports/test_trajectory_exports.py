"""Agent trajectories in exports: OpenAI messages with tool calls (ReAct SFT), step labels
(PRM-style) from people's first wrong steps or the env verdict, and pairs of a task's
succeeded and failed trajectories; each round-trips to the same bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from curation.exports.services import create_export, import_dataset
from curation.exports.trajectories import labelled, lower_median
from curation.projects.services import ServiceError
from curation.review import services as review
from curation.samples.models import Sample
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows, path_of
from tests.exports.test_formats import check_trl, load
from tests.factories import ProjectFactory, SampleFactory
from tests.review.test_trajectory_review import (
    SQL_TOOLS,
    STORED_STEPS,
    agent_messages,
    env_extra,
)

pytestmark = pytest.mark.django_db
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def trajectory(cast: Cast, *, tag: str, **fields: Any) -> Sample:
    fields.setdefault("messages", agent_messages())
    fields.setdefault("extra", env_extra())
    return SampleFactory(
        project=cast.project, kind="tool_trajectory", tools=SQL_TOOLS, tags=[tag], **fields
    )


def reviewed(cast: Cast, sample: Sample, *decisions: dict[str, Any]) -> None:
    """One review per decision, by different people (overlap = how many)."""
    queue = review.create_queue(
        cast.curator, cast.project, name=f"q{sample.pk}", filters={"tags": sample.tags},
        overlap=len(decisions),
    )  # fmt: skip
    people = (cast.annotator, cast.curator, cast.owner)[: len(decisions)]
    for person, decision in zip(people, decisions, strict=True):
        assignment = review.claim_next(person, queue)
        assert assignment is not None and assignment.item.sample_id == sample.pk
        review.submit_review(person, assignment, **decision)


def by_tag(export: Any) -> dict[str, dict[str, Any]]:
    """Rows keyed by the user question, which each test trajectory varies."""
    return {r["prompt"][1]["content"]: r for r in jsonl_rows(export)}


def question(tag: str) -> list[dict[str, Any]]:
    messages = agent_messages()
    messages[1] = {"role": "user", "content": tag}
    return messages


def test_the_lower_median_labels_each_step_as_most_annotators_do_a_tie_counting_as_wrong() -> None:
    assert lower_median([2, 4]) == 2 and lower_median([1, 3, 4]) == 3
    assert labelled([[1, "reject"], [3, "reject"]], 3, {}) == ([-1, 0, 0], "human", 1)
    assert labelled([[2, "reject"], [None, "accept"]], 3, {}) == ([1, -1, 0], "human", 2)
    assert labelled([[None, "accept"]], 3, {}) == ([1, 1, 1], "human", None)
    # a reject without a mark counts only when nobody labelled the steps
    assert labelled([[None, "reject"], [2, "reject"]], 3, {}) == ([1, -1, 0], "human", 2)
    assert labelled([[None, "reject"]], 3, env_extra(True)) == ([0, 0, -1], "human:outcome", None)
    assert labelled([], 3, env_extra(True)) == ([1, 1, 1], "env", None)
    assert labelled([], 3, env_extra(False)) == ([0, 0, -1], "env", None)
    assert labelled([], 3, {}) is None


def test_step_labels_come_from_people_else_from_the_env_verdict(cast: Cast) -> None:
    marked = trajectory(cast, tag="marked", messages=question("marked"))
    reviewed(cast, marked, {"decision": "reject", "first_wrong_step": 2})
    two = trajectory(cast, tag="two", messages=question("two"))
    reviewed(
        cast, two, {"decision": "reject", "first_wrong_step": 3}, {"decision": "accept"}
    )  # marks 3 and "after the last": the lower median is 3
    outcome = trajectory(cast, tag="outcome", messages=question("outcome"))
    reviewed(cast, outcome, {"decision": "reject"})
    trajectory(cast, tag="ok", messages=question("env ok"))
    trajectory(cast, tag="bad", messages=question("env bad"), extra=env_extra(False))
    trajectory(cast, tag="none", messages=question("unknown"), extra={})
    trajectory(
        cast, tag="stored", messages=question("stored"),
        extra=env_extra(steps=STORED_STEPS, trajectory_id="t-9"),
    )  # fmt: skip
    SampleFactory(project=cast.project, status="accepted")  # not a trajectory
    export = export_now(cast.curator, cast.project, format="step_labels")
    rows = by_tag(export)
    assert set(rows) == {"marked", "two", "outcome", "env ok", "env bad", "stored"}
    assert export.manifest["counts"]["skipped"] == {"no_step_labels": 1}
    row = rows["marked"]
    assert list(row) == [
        "prompt", "tools", "steps", "labels", "label_source", "first_wrong_step",
        "success", "score",
    ]  # fmt: skip
    assert row["labels"] == [1, -1, 0] and row["first_wrong_step"] == 2
    assert row["label_source"] == "human" and row["success"] is True and row["score"] == 1.0
    assert row["prompt"] == question("marked")[:2] and row["tools"] == SQL_TOOLS
    assert row["steps"][0] == {
        "thought": "I will count the rows.",
        "actions": [{"name": "execute_sql", "arguments": {"sql": "SELECT count(*) FROM pet"}}],
        "observations": ["no such table: pet"],
        "error": False,
    }
    assert rows["two"]["labels"] == [1, 1, -1]
    assert rows["outcome"]["labels"] == [0, 0, -1]
    assert rows["outcome"]["label_source"] == "human:outcome"
    assert rows["env ok"]["labels"] == [1, 1, 1] and rows["env ok"]["label_source"] == "env"
    assert rows["env bad"]["labels"] == [0, 0, -1] and rows["env bad"]["success"] is False
    assert rows["stored"]["labels"] == [1, 1, 1, 1] and rows["stored"]["trajectory_id"] == "t-9"
    assert rows["stored"]["steps"][1]["error"] is True
    assert export.manifest["counts"]["by_source"] == {
        "env": 3, "human": 2, "human:outcome": 1,
    }  # fmt: skip
    card = path_of(export, "README.md").read_text()
    assert "## How steps are labelled" in card and "lower median" in card


def test_step_labels_round_trip_to_the_same_bytes(cast: Cast) -> None:
    marked = trajectory(cast, tag="marked", messages=question("marked"))
    reviewed(cast, marked, {"decision": "reject", "first_wrong_step": 2})
    trajectory(cast, tag="bad", messages=question("env bad"), extra=env_extra(False))
    trajectory(
        cast, tag="stored", messages=question("stored"),
        extra=env_extra(steps=STORED_STEPS, trajectory_id=7),
    )  # fmt: skip
    first = export_now(cast.curator, cast.project, format="step_labels")
    data = path_of(first, "train.jsonl").read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    result = import_dataset(cast.curator, elsewhere, data=data, filename="train.jsonl")
    assert result["format"] == "step_labels" and result["imported"] == 3
    sample = Sample.objects.filter(project=elsewhere).order_by("id").first()
    assert sample is not None and sample.kind == "tool_trajectory"
    assert sample.messages[2]["tool_calls"][0]["function"]["name"] == "execute_sql"
    assert sample.extra["step_labels"]["labels"] == [1, -1, 0]
    again = export_now(cast.curator, elsewhere, format="step_labels")
    assert path_of(again, "train.jsonl").read_bytes() == data
    # and the imported trajectories are OpenAI tool-calling rows too
    openai = export_now(cast.curator, elsewhere, format="openai", filters={"statuses": ["pending"]})
    assert {r["messages"][-1]["role"] for r in jsonl_rows(openai)} == {"assistant", "tool"}


def test_a_bad_step_labelled_row_is_refused_with_its_line(cast: Cast) -> None:
    row = {"prompt": [{"role": "user", "content": "x"}], "steps": [{"thought": "t"}],
           "labels": [2]}  # fmt: skip
    with pytest.raises(ServiceError, match=r"line 1: field 'labels' must hold 1, 0 or -1"):
        import_dataset(cast.curator, cast.project, data=json.dumps(row).encode(), filename="x")


def test_a_project_without_trajectories_has_nothing_to_export_in_their_formats(
    cast: Cast,
) -> None:
    SampleFactory(project=cast.project, status="accepted")
    for fmt in ("step_labels", "trajectory_pairs"):
        with pytest.raises(ServiceError, match="No samples match these filters"):
            create_export(cast.curator, cast.project, format=fmt)


def test_the_new_formats_are_jsonl_only(cast: Cast) -> None:
    trajectory(cast, tag="x")
    for fmt in ("step_labels", "trajectory_pairs"):
        with pytest.raises(ServiceError, match=f"{fmt} files are JSONL"):
            create_export(cast.curator, cast.project, format=fmt, parquet=True)


def finish_trajectory(answer: str) -> list[dict[str, Any]]:
    """An env episode that ends on the result of its `finish` call."""
    messages = agent_messages()[:-1]
    messages.append(
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c3", "type": "function",
             "function": {"name": "finish", "arguments": json.dumps({"answer": answer})}}]},
    )  # fmt: skip
    messages.append({"role": "tool", "tool_call_id": "c3", "content": "episode finished"})
    return messages


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_react_sft_rows_keep_tool_calls_results_and_tools_even_ending_on_finish(
    cast: Cast, tmp_path: Path, parquet: bool
) -> None:
    trajectory(cast, tag="a", status="accepted", messages=finish_trajectory("3"))
    trajectory(cast, tag="b", status="accepted")
    export = export_now(cast.curator, cast.project, format="openai", parquet=parquet)
    assert export.rows_written == 2
    ds = load(export, tmp_path)
    finish = next(r for r in ds if r["messages"][-1]["role"] == "tool")
    assert finish["messages"][-2]["tool_calls"][0]["function"]["name"] == "finish"
    tools = finish["tools"]
    assert (json.loads(tools) if isinstance(tools, str) else tools) == SQL_TOOLS
    from trl.data_utils import is_conversational

    assert is_conversational(finish)
    check_trl("openai", ds.filter(lambda r: r["messages"][-1]["role"] == "assistant"))
    if not parquet:
        data = path_of(export, "train.jsonl").read_bytes()
        elsewhere = ProjectFactory(name="Elsewhere")
        import_dataset(cast.curator, elsewhere, data=data, fmt="openai", filename="t.jsonl")
        again = export_now(
            cast.curator, elsewhere, format="openai", filters={"statuses": ["pending"]}
        )
        assert path_of(again, "train.jsonl").read_bytes() == data


def test_a_tasks_succeeded_and_failed_trajectories_make_a_pair_from_where_they_part(
    cast: Cast,
) -> None:
    def env(task: str, success: bool) -> dict[str, Any]:
        verdict = {"success": success, "score": float(success)}
        return {"env": {"name": "SQLiteEnv", "task": {"q": task}, "verdict": verdict}}

    good = trajectory(cast, tag="t", extra=env("pets", True))
    bad = trajectory(
        cast, tag="t", messages=agent_messages("4", "SELECT 4"), extra=env("pets", False)
    )
    # another task: no partner
    trajectory(cast, tag="t", messages=question("other"), extra=env("other", False))
    export = export_now(
        cast.curator, cast.project, format="trajectory_pairs", options={"include_scores": True}
    )
    (row,) = jsonl_rows(export)
    assert list(row) == [
        "prompt", "chosen", "rejected", "score_chosen", "score_rejected", "source", "tools",
    ]  # fmt: skip
    assert row["prompt"] == good.messages[:4]  # system, user, the first step and its result
    assert row["chosen"] == good.messages[4:] and row["rejected"] == bad.messages[4:]
    assert row["source"] == "trajectory:env" and row["tools"] == SQL_TOOLS
    assert (row["score_chosen"], row["score_rejected"]) == (1.0, 0.0)
    assert export.manifest["counts"]["skipped"] == {"no_opposite_outcome": 1}
    assert "## How pairs are made" in path_of(export, "README.md").read_text()
    from trl.data_utils import is_conversational, maybe_extract_prompt

    assert is_conversational(row) and maybe_extract_prompt(row)["prompt"] == row["prompt"]


def test_people_decide_the_outcome_before_the_env_and_a_trajectory_id_groups(
    cast: Cast,
) -> None:
    extra = env_extra(True, trajectory_id="run-1/item-3")
    accepted = trajectory(cast, tag="ok", extra=extra | {"env": {"verdict": {"success": False}}})
    reviewed(cast, accepted, {"decision": "accept"})  # a person overrides the env's failure
    rejected = trajectory(cast, tag="no", messages=agent_messages("5", "SELECT 5"), extra=extra)
    reviewed(cast, rejected, {"decision": "reject"})  # ... and here its success
    export = export_now(cast.curator, cast.project, format="trajectory_pairs")
    (row,) = jsonl_rows(export)
    assert row["source"] == "trajectory:human"
    assert row["chosen"][0]["content"] == "The table is pets."
    assert "There are 3 pets." in json.dumps(row["chosen"])
    assert "There are 5 pets." in json.dumps(row["rejected"])


def test_trajectory_pairs_round_trip_to_the_same_bytes(cast: Cast) -> None:
    task = {"env": {"task": {"q": 1}, "verdict": {"success": True, "score": 1.0}}}
    failed = {"env": {"task": {"q": 1}, "verdict": {"success": False, "score": 0.5}}}
    trajectory(cast, tag="t", extra=task)
    trajectory(cast, tag="t", messages=finish_trajectory("9"), extra=failed)
    trajectory(cast, tag="t", messages=agent_messages("4", "SELECT 4"), extra=failed)
    options = {"include_scores": True}
    first = export_now(cast.curator, cast.project, format="trajectory_pairs", options=options)
    assert first.rows_written == 2
    data = path_of(first, "train.jsonl").read_bytes()
    elsewhere = ProjectFactory(name="Elsewhere")
    result = import_dataset(
        cast.curator, elsewhere, data=data, fmt="trajectory_pairs", filename="p.jsonl"
    )
    assert result["imported"] == 2
    pair = Sample.objects.filter(project=elsewhere).first()
    assert pair is not None and pair.kind == "preference" and pair.tools == SQL_TOOLS
    again = export_now(
        cast.curator, elsewhere, format="trajectory_pairs", options=options,
        filters={"statuses": ["pending"]},
    )  # fmt: skip
    assert path_of(again, "train.jsonl").read_bytes() == data
    conversational = export_now(
        cast.curator, elsewhere, format="dpo_conversational", options=options,
        filters={"statuses": ["pending"]},
    )  # fmt: skip
    assert path_of(conversational, "train.jsonl").read_bytes() == data
