"""AgentTuning (#53): ReAct trajectories in the envs, kept by the env's reward."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.runs.models import RunItem, RunStatus
from tests.generation.cases import counter

PETS = (
    "CREATE TABLE pets (name TEXT, kind TEXT);"
    "INSERT INTO pets VALUES ('Rex','dog'),('Tom','cat'),('Kit','cat'),('Max','dog');"
)
CATS = {"setup_sql": PETS, "question": "Which pets are cats?",
        "gold_sql": "SELECT name FROM pets WHERE kind = 'cat'"}  # fmt: skip
DOGS = {"setup_sql": PETS, "question": "How many dogs are there?",
        "gold_sql": "SELECT count(*) FROM pets WHERE kind = 'dog'"}  # fmt: skip
PHONE = {"question": "Turn wifi off, then tell me the date.",
         "milestones": [{"state": "settings.wifi", "equals": False},
                        {"answer_contains": "2026-12-01"}]}  # fmt: skip


def step(thought: str, action: str, arguments: dict[str, Any]) -> str:
    return f"Thought: {thought}\nAction: {action}\nAction Input: {json.dumps(arguments)}"


def seeds(bench: Any, *tasks: tuple[str, dict[str, Any]]) -> Any:
    data = "".join(json.dumps({"env": e, "task": t}) + "\n" for e, t in tasks).encode()
    return import_seed_set(bench.owner, bench.project, name="Tasks", data=data)


def filtered(run: Any) -> dict[str, str]:
    return {i.reason: i.detail for i in RunItem.objects.filter(run=run, outcome="filtered")}


@pytest.mark.django_db(transaction=True)
def test_a_db_trajectory_with_the_right_result_is_kept_and_a_wrong_answer_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        r"cats\?.*Observation:", "Thought: These rows are the cats.\nFinal Answer: Tom, Kit"
    )
    cats, n = {"sql": "SELECT name FROM pets WHERE kind = 'cat'"}, counter()
    # Each pass words its thought anew: identical samples would be exact duplicates.
    fake_llm.script(r"cats\?", lambda body: step(f"I list the cats ({n()}).", "execute_sql", cats))
    fake_llm.script(r"many dogs.*Observation:", "Thought: I counted them.\nFinal Answer: 3")
    dogs = {"sql": "SELECT name FROM pets WHERE kind = 'dog'"}
    fake_llm.script(r"many dogs", step("I count the dogs.", "execute_sql", dogs))

    run = bench.start("agenttuning", 2, seed_set=seeds(bench, ("sqlite", CATS), ("sqlite", DOGS)),
                      futility_limit=6)  # fmt: skip

    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 2 and {s.kind for s in samples} == {"tool_trajectory"}
    assert {s.extra["env"]["task"] for s in samples} == {"Which pets are cats?"}
    assert "task_failed" in filtered(run)
    assert "the answer differs from the gold result" in filtered(run)["task_failed"]
    sample = samples[0]
    assert sample.extra["env"]["verdict"]["success"] is True
    assert sample.extra["metadata"] == {"reward": 1.0, "actions": 1, "success": True}
    # Exported turns: the task, then thought + action, the env's observation, the answer.
    roles = [m["role"] for m in sample.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert "Which pets are cats?" in sample.messages[0]["content"]
    assert "CREATE TABLE pets" in sample.messages[0]["content"]
    call = sample.messages[1]
    assert call["content"].startswith("I list the cats (")
    assert call["tool_calls"][0]["function"]["name"] == "execute_sql"
    assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {
        "sql": "SELECT name FROM pets WHERE kind = 'cat'"
    }
    assert sample.messages[2]["tool_call_id"] == call["tool_calls"][0]["id"]
    assert "Tom" in sample.messages[2]["content"] and "Kit" in sample.messages[2]["content"]
    assert sample.messages[3]["content"] == "These rows are the cats.\nFinal Answer: Tom, Kit"
    assert [t["function"]["name"] for t in sample.tools] == ["execute_sql"]
    assert [s["action"]["name"] for s in sample.extra["steps"]] == ["execute_sql", "finish"]
    assert sample.extra["steps"][0]["thought"] == call["content"]


@pytest.mark.django_db(transaction=True)
def test_a_graded_reward_below_the_threshold_is_dropped_and_kept_when_the_threshold_allows(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"wifi off.*Observation:", "Thought: Done.\nFinal Answer: I do not know.")
    fake_llm.script(
        r"wifi off", step("Wifi first.", "set_setting", {"name": "wifi", "value": False})
    )
    tasks = seeds(bench, ("world", PHONE))

    strict = bench.start("agenttuning", 1, seed_set=tasks, futility_limit=2)
    lenient = bench.start("agenttuning", 1, seed_set=tasks, params={"reward_threshold": 0.5})

    assert strict.status == RunStatus.FAILED
    assert "0.50: 1 of 2 milestones met in order" in filtered(strict)["below_reward_threshold"]
    assert lenient.status == RunStatus.COMPLETED, lenient.last_error
    sample = Sample.objects.get(run=lenient)
    assert sample.extra["metadata"]["reward"] == 0.5 and not sample.extra["metadata"]["success"]


@pytest.mark.django_db(transaction=True)
def test_a_reply_that_is_no_action_and_a_trajectory_past_the_step_cap_are_dropped(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"cats\?", "I think the cats are Tom and Kit.")
    fake_llm.script(r"many dogs", step("Again.", "execute_sql", {"sql": "SELECT 1"}))
    tasks = seeds(bench, ("sqlite", CATS), ("sqlite", DOGS))

    run = bench.start("agenttuning", 1, seed_set=tasks, futility_limit=2,
                      params={"max_steps": 2})  # fmt: skip

    assert run.status == RunStatus.FAILED
    assert set(filtered(run)) == {"malformed_action", "no_final_answer"}
    assert "neither an Action nor a Final Answer" in filtered(run)["malformed_action"]
    assert Sample.objects.filter(run=run).count() == 0
