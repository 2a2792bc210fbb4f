"""Self-Talk (#15): a client persona talks with an agent that follows a workflow; the steps
the agent completes are matched by embeddings, and the completion ratio decides.

The fake embedder gives each text a vector of the workflow keywords it holds, so an agent
turn matches exactly the step whose keyword it says (cosine 1) and no other (cosine 0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from curation.projects.services import ServiceError
from curation.seeds.services import import_seed_set
from generation.recipes.self_talk_flow import Progress, Workflow
from generation.runs.models import RunItem, RunStatus

KEYWORDS = ("greet", "order", "refund", "confirm")
FLOW = {
    "name": "return_item",
    "goal": "Help a customer return an item.",
    "steps": [
        "Greet the customer and ask which item they want to return.",
        "Ask for the order number.",
        "Explain the refund options.",
        "Confirm the return and say goodbye.",
    ],
}
PERSONA = {"name": "Hana", "persona": "A busy architect who bought the wrong desk lamp."}
# The agent does three of the four steps; the client ends the talk after the third.
AGENT_LINES = [
    "Welcome! Let me greet you: which item is it?",
    "What is your order number?",
    "You can have a refund to your card or an exchange.",
    "I confirm it: the label is in your email. Goodbye!",
]
CLIENT_LINES = ["I want to return a lamp.", "It is 4411.", "A refund, please.", "Bye! [END]"]
CONSISTENCY = r"Score the client's character consistency"


class Embedder:
    name, dim = "fake-keywords", len(KEYWORDS) + 1

    def encode(self, texts: list[str]) -> Any:
        rows = np.array([vector(t) for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def vector(text: str) -> list[float]:
    counts = [float(k in text.lower()) for k in KEYWORDS]
    return [*counts, 0.0 if any(counts) else 1.0]


@pytest.fixture(autouse=True)
def embedder(monkeypatch: Any) -> None:
    monkeypatch.setattr("generation.recipes.kit.pools.local", Embedder)


def speaker(body: dict[str, Any]) -> str:
    return "client" if "role-playing a client" in body["messages"][0]["content"] else "agent"


def own_turns(body: dict[str, Any]) -> int:
    return sum(m["role"] == "assistant" for m in body["messages"])


def talks(fake: Any, agent: list[str], client: list[str], scores: tuple[int, ...] = (4, 5, 4)
          ) -> None:  # fmt: skip
    """Each side says its lines in order, then small talk; the judge gives `scores`."""
    fake.script(CONSISTENCY, lambda body: [f"In character. Score: {s}" for s in scores])

    def say(body: dict[str, Any]) -> str:
        lines, k = (client if speaker(body) == "client" else agent), own_turns(body)
        return lines[k] if k < len(lines) else f"Anything else? (turn {k})"

    fake.script(r".", say)


@pytest.fixture
def seeds(bench: Any) -> Callable[..., Any]:
    made = iter(range(100))

    def make(*records: dict[str, Any]) -> Any:
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
        return import_seed_set(bench.owner, bench.project, name=f"Set {next(made)}", data=data)

    return make


def agent_systems(fake: Any) -> list[str]:
    return [b["messages"][0]["content"] for b in fake.requests if speaker(b) == "agent"
            and not re.search(CONSISTENCY, b["messages"][-1]["content"])]  # fmt: skip


# -- the acceptance test ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_dialogue_covering_three_of_four_steps_stores_completion_and_passes_at_seven_tenths(
    bench: Any, fake_llm: Any, seeds: Any
) -> None:
    talks(fake_llm, AGENT_LINES[:3], CLIENT_LINES)
    run = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA),
                      params={"min_completion": 0.7})  # fmt: skip
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = run.samples.get()
    meta = sample.extra["metadata"]
    assert meta["completion"] == 0.75 and meta["completed_steps"] == ["1", "2", "3"]
    assert meta["steps"] == 4 and meta["ended"] == "stop_token" and meta["ended_properly"]
    assert [m["completed"] for m in meta["step_matches"]] == [["1"], ["2"], ["3"]]
    assert meta["consistency"] == pytest.approx(4.3333, abs=1e-4)
    assert meta["embedder"] == "fake-keywords" and meta["workflow"] == "return_item"
    assert sample.judge_score == pytest.approx(4.3333, abs=1e-4)
    assert 0 < sample.judge_confidence < 1  # three samples that disagree a little
    assert sample.kind == "conversation" and sample.tags == ["workflow:return_item"]
    roles = [m["role"] for m in sample.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant",
                     "user"]  # fmt: skip
    assert sample.messages[-1]["content"] == "Bye!"  # the end token is not kept


@pytest.mark.django_db(transaction=True)
def test_the_same_dialogue_is_rejected_when_the_whole_workflow_is_required(
    bench: Any, fake_llm: Any, seeds: Any
) -> None:
    talks(fake_llm, AGENT_LINES[:3], CLIENT_LINES)
    run = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA), futility_limit=2,
                      params={"min_completion": 1.0})  # fmt: skip
    assert run.status == RunStatus.FAILED and run.produced == 0
    item = RunItem.objects.filter(run=run, reason="low_completion").first()
    assert item is not None and item.detail == "completion 0.75 (3 of 4 steps)"
    assert fake_llm.count(CONSISTENCY) == 0  # dropped before the judge is asked


# -- what the agent sees, how a dialogue ends ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_agent_is_shown_its_current_step_and_the_allowed_next_ones_the_client_is_not(
    bench: Any, fake_llm: Any, seeds: Any
) -> None:
    talks(fake_llm, AGENT_LINES[:3], CLIENT_LINES)
    run = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA))
    assert run.status == RunStatus.COMPLETED, run.last_error
    first, second = agent_systems(fake_llm)[:2]
    assert f"Current step: {FLOW['steps'][0]}" in first
    assert f"Allowed next steps after it:\n- {FLOW['steps'][1]}" in first
    assert f"Current step: {FLOW['steps'][1]}" in second
    client = next(b for b in fake_llm.requests if speaker(b) == "client")
    system = client["messages"][0]["content"]
    assert PERSONA["persona"] in system and FLOW["goal"] in system
    assert FLOW["steps"][1] not in system


@pytest.mark.django_db(transaction=True)
def test_an_agent_that_completes_the_last_step_ends_the_dialogue_properly(
    bench: Any, fake_llm: Any, seeds: Any
) -> None:
    talks(fake_llm, AGENT_LINES, ["Hi.", "4411.", "Refund.", "Thanks."])
    run = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA))
    assert run.status == RunStatus.COMPLETED, run.last_error
    meta = run.samples.get().extra["metadata"]
    assert (meta["completion"], meta["ended"]) == (1.0, "workflow_done")
    assert len(run.samples.get().messages) == 1 + 8  # stopped after the agent's fourth turn


@pytest.mark.django_db(transaction=True)
def test_a_dialogue_cut_by_the_turn_cap_drops_unless_no_ending_is_required(
    bench: Any, fake_llm: Any, seeds: Any
) -> None:
    talks(fake_llm, AGENT_LINES[:2], ["Hi.", "4411."])
    strict = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA), futility_limit=2,
                         params={"max_turns": 6})  # fmt: skip
    assert strict.status == RunStatus.FAILED and set(strict.filtered) == {"no_ending"}
    lenient = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA), params={
        "max_turns": 6, "require_ending": False})  # fmt: skip
    assert lenient.status == RunStatus.COMPLETED, lenient.last_error
    meta = lenient.samples.get().extra["metadata"]
    assert (meta["completion"], meta["ended_properly"], meta["ended"]) == (0.5, False, "max_turns")


@pytest.mark.django_db(transaction=True)
def test_a_client_who_falls_out_of_character_is_dropped(
    bench: Any, fake_llm: Any, seeds: Any
) -> None:
    talks(fake_llm, AGENT_LINES[:3], CLIENT_LINES, scores=(1, 2, 1))
    run = bench.start("self_talk", 1, seed_set=seeds(FLOW, PERSONA), futility_limit=2)
    assert run.status == RunStatus.FAILED and set(run.filtered) == {"inconsistent_client"}
    item = RunItem.objects.filter(run=run, reason="inconsistent_client").first()
    assert item is not None and item.detail == "consistency 1.3333"


@pytest.mark.django_db
def test_a_seed_set_without_personas_or_without_workflows_is_refused_at_start(
    bench: Any, seeds: Any
) -> None:
    with pytest.raises(ServiceError, match="has no persona seeds"):
        bench.start("self_talk", 1, seed_set=seeds(FLOW))
    with pytest.raises(ServiceError, match="has no workflow seeds"):
        bench.start("self_talk", 1, seed_set=seeds(PERSONA))


# -- the graph -------------------------------------------------------------------------


BRANCHES = {
    "goal": "Book a table.",
    "steps": [
        {"id": "greet", "text": "Greet.", "next": ["new", "change"]},
        {"id": "new", "text": "New booking.", "next": ["confirm"]},
        {"id": "change", "text": "Change a booking.", "next": ["confirm"]},
        {"id": "confirm", "text": "Confirm.", "next": []},
    ],
}


def test_a_branch_leaves_the_other_path_undone_and_the_end_finishes_the_workflow() -> None:
    progress = Progress(Workflow.of(BRANCHES))
    assert progress.candidates() == ["greet", "new", "change"]
    assert progress.advance({"greet": 0.9, "new": 0.2}, 0.5) == ["greet"]
    assert progress.frontier == ["new", "change"] and progress.allowed_next() == ["confirm"]
    assert progress.advance({"change": 0.8}, 0.5) == ["change"] and not progress.finished
    assert progress.advance({"confirm": 0.7}, 0.5) == ["confirm"] and progress.finished
    assert progress.done == ["greet", "change", "confirm"] and progress.completion == 0.75


def test_a_turn_may_do_one_step_further_on_and_the_skipped_step_stays_undone() -> None:
    chain = {"steps": [{"id": str(i), "text": f"S{i}.", "next": [str(i + 1)] if i < 4 else []}
                       for i in range(1, 5)]}  # fmt: skip
    progress = Progress(Workflow.of(chain))
    assert progress.advance({"2": 0.9, "3": 0.9}, 0.5) == ["2"]  # 3 is two steps ahead
    assert progress.frontier == ["3"] and progress.done == ["2"]
    assert progress.advance({"1": 0.9}, 0.5) == []  # the skipped step is no longer offered
    assert progress.completion == 0.25


def test_a_workflow_whose_steps_lead_nowhere_known_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown steps"):
        Workflow.of({"steps": [{"id": "a", "text": "A.", "next": ["z"]}]})
