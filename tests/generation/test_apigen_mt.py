"""APIGen-MT (#49): blueprints verified by execution and a committee, rollouts kept by the
final state's hash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.envs import phone
from generation.recipes.apigen_mt_world import Blueprint, policy_problems, state_hash
from generation.runs.models import RunItem, RunStatus
from tests.generation.cases.apigen_mt import (
    ASKED,
    BLUEPRINT,
    DATE,
    REVIEW,
    SEEDS,
    USER,
    agent,
    blueprint,
    user,
)

PARAMS = {"vary_state": False, "committee": 3, "trials": 2}
PASS = "The action does what the user asks.\nVerdict: pass"
FAIL = "The instruction does not give the date.\nVerdict: fail"
SEND_WHILE_OFFLINE = json.dumps({
    "instruction": "You want to text Ana Lima 'hi'.",
    "actions": [{"name": "send_message", "arguments": {"phone_number": "+1 555 0101",
                                                      "content": "hi"}}],
    "outputs": [],
})  # fmt: skip


def personas(bench: Any) -> Any:
    return import_seed_set(bench.owner, bench.project, name="Personas", data=SEEDS)


def in_turn(*replies: Any) -> Any:
    left = list(replies)
    return lambda _body: left.pop(0) if len(left) > 1 else left[0]


def scripted(fake: Any, *, blueprints: Any, review: Any = PASS, act: Any = agent) -> None:
    fake.script(BLUEPRINT, blueprints)
    fake.script(REVIEW, review)
    fake.script(USER, user)
    fake.script(ASKED, act)


def prompts(fake: Any, pattern: str) -> list[str]:
    return [b["messages"][-1]["content"] for b in fake.requests
            if pattern in b["messages"][-1]["content"]]  # fmt: skip


def run_of(bench: Any, target: int = 1, **params: Any) -> Any:
    return bench.start("apigen_mt", target, seed_set=personas(bench),
                       params={**PARAMS, **params}, futility_limit=3)  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_blueprint_whose_ground_truth_action_fails_is_rejected(bench: Any, fake_llm: Any) -> None:
    scripted(fake_llm, blueprints=SEND_WHILE_OFFLINE)
    run = run_of(bench, max_attempts=1)
    assert run.status == RunStatus.FAILED
    assert not Sample.objects.filter(run=run).exists()
    items = RunItem.objects.filter(run=run)
    assert {i.reason for i in items} == {"action_failed"}
    assert not prompts(fake_llm, "You review a task blueprint")  # never reached the committee


@pytest.mark.django_db(transaction=True)
def test_the_failed_action_is_fed_back_and_the_regenerated_blueprint_is_played_out(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, blueprints=in_turn(SEND_WHILE_OFFLINE, blueprint("buy milk")))
    run = run_of(bench, max_attempts=2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    second = prompts(fake_llm, "You design tasks")[1]
    assert "no cellular service" in second and "send_message" in second
    attempts = sample.extra["metadata"]["attempts"]
    assert [a["reason"] for a in attempts] == ["action_failed", ""]
    assert sample.extra["metadata"]["blueprint"]["actions"][0]["arguments"]["content"] == "buy milk"


def sloppy(body: dict[str, Any]) -> Any:
    """The agent drops a word of the reminder: a call that succeeds, on the wrong state."""
    reply = agent(body)
    if isinstance(reply, dict):
        reply["tool_calls"][0]["arguments"]["content"] = "milk"
    return reply


@pytest.mark.django_db(transaction=True)
def test_a_rollout_whose_final_state_differs_from_the_gold_state_is_rejected_every_trial(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, blueprints=blueprint("buy milk"), act=sloppy)
    run = run_of(bench)
    assert run.status == RunStatus.FAILED
    assert {i.reason for i in RunItem.objects.filter(run=run)} == {"state_mismatch"}
    assert not Sample.objects.filter(run=run).exists()
    items = RunItem.objects.filter(run=run).count()
    assert len(prompts(fake_llm, "You play a human user")) == items * 2 * 2  # × trials × turns


@pytest.mark.django_db(transaction=True)
def test_a_rollout_is_accepted_when_its_final_state_hash_equals_the_gold_hash(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, blueprints=blueprint("buy milk"))
    run = run_of(bench)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    gold = phone.initial({})
    gold["reminders"].append({"content": "buy milk", "date": DATE})
    meta = sample.extra["metadata"]
    assert meta["final_hash"] == meta["gold_hash"] == state_hash(gold)
    assert sample.kind == "tool_trajectory"
    roles = [m["role"] for m in sample.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert DATE in sample.messages[-1]["content"]  # the expected output was told
    assert sample.extra["steps"][0]["action"]["name"] == "add_reminder"
    assert sample.extra["env"]["verdict"]["success"] is True
    assert sample.extra["vote"] == {"answer": "pass", "share": 1.0, "count": 3, "of": 3}


@pytest.mark.django_db(transaction=True)
def test_rejection_sampling_keeps_the_second_trial_when_the_first_misses_the_state(
    bench: Any, fake_llm: Any
) -> None:
    calls = iter(range(1000))
    scripted(fake_llm, blueprints=blueprint("buy milk"),
             act=lambda body: (sloppy if next(calls) < 2 else agent)(body))  # fmt: skip
    run = run_of(bench)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.extra["metadata"]["trial"] == 2
    (call,) = [c for m in sample.messages for c in m.get("tool_calls") or []]
    assert json.loads(call["function"]["arguments"])["content"] == "buy milk"


@pytest.mark.django_db(transaction=True)
def test_a_committee_majority_against_rejects_the_blueprint_before_any_rollout(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, blueprints=blueprint("buy milk"), review=lambda _b: [PASS, FAIL, FAIL])
    run = run_of(bench, max_attempts=1)
    assert {i.reason for i in RunItem.objects.filter(run=run)} == {"committee_rejected"}
    assert not prompts(fake_llm, "You play a human user")


@pytest.mark.django_db(transaction=True)
def test_an_expected_output_the_agent_never_tells_rejects_the_rollout(
    bench: Any, fake_llm: Any
) -> None:
    def mute(body: dict[str, Any]) -> Any:
        return "Done." if body["messages"][-1]["role"] == "tool" else agent(body)

    scripted(fake_llm, blueprints=blueprint("buy milk"), act=mute)
    run = run_of(bench)
    assert {i.reason for i in RunItem.objects.filter(run=run)} == {"outputs_missing"}


def test_the_policy_wants_a_number_looked_up_before_a_message_and_no_past_reminders() -> None:
    send = {"name": "send_message", "arguments": {"phone_number": "+1 555 0101", "content": "x"}}
    look = {"name": "search_contacts", "arguments": {"name": "Ana"}}
    late = {"name": "add_reminder", "arguments": {"content": "x", "date": "2026-11-30"}}
    found = json.dumps([{"name": "Ana Lima", "phone": "+1 555 0101"}])
    assert policy_problems(Blueprint("x", [send], []), ["{}"], "2026-12-01")
    assert not policy_problems(Blueprint("x", [look, send], []), [found, "{}"], "2026-12-01")
    (problem,) = policy_problems(Blueprint("x", [late], []), ["{}"], "2026-12-01")
    assert "before today" in problem
