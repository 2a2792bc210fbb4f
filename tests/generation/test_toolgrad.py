"""ToolGrad (#47): three toy APIs grown into a chain step by step, the request written last."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation import sandbox
from generation.recipes.toolgrad_workflow import Link, mentions, missing
from generation.runs.models import RunItem, RunStatus, ToolResponse
from generation.tools import cache
from generation.tools.definitions import ToolDef
from tests.generation.cases.toolgrad import (
    ANSWER,
    BACKWARD,
    FORWARD,
    JUDGE,
    QUERY,
    TOOLS,
    TOY,
    calling,
    values_asked,
)

PARAMS = {"batch_size": 3, "judge_samples": 2}
KEEP = "The call works and extends the workflow.\nDecision: keep"
REQUEST = (
    "Add 12 and 30, then tell me what the total would be in Fahrenheit if it were degrees "
    "Celsius, and count the words in 'the quick brown fox'."
)
CHAIN = [
    calling("add", {"a": 12, "b": 30}),
    calling("celsius_to_fahrenheit", {"celsius": 42}),
    calling("word_count", {"text": "the quick brown fox"}),
]


def toy_seeds(bench: Any, tools: list[dict[str, Any]] = TOY) -> Any:
    data = "\n".join(json.dumps(t) for t in tools).encode()
    return import_seed_set(bench.owner, bench.project, name="Toy APIs", data=data)


def in_turn(replies: list[Any]) -> Any:
    """A scripted reply that gives `replies` one after another (and again)."""
    left = itertools.cycle(replies)
    return lambda _body: next(left)


def scripted(
    fake: Any,
    forward: list[Any],
    *,
    backward: Any = KEEP,
    query: str = REQUEST,
    judge: str = "The request asks for exactly what the chain does.\nScore: 5",
) -> None:
    fake.script(FORWARD, in_turn(forward))
    fake.script(BACKWARD, backward)
    fake.script(QUERY, query)
    fake.script(ANSWER, "12 plus 30 is 42; 42 °C is 107.6 °F; 'the quick brown fox' has 4 words.")
    fake.script(JUDGE, judge)


def requests(fake: Any, pattern: str) -> list[str]:
    texts = [b["messages"][-1]["content"] for b in fake.requests]
    return [t for t in texts if pattern in t]


def stored_calls(sample: Sample) -> list[tuple[str, dict[str, Any], str]]:
    """(tool, arguments, stored result) for each call of a trajectory."""
    results = {m["tool_call_id"]: m["content"] for m in sample.messages if m["role"] == "tool"}
    return [
        (c["function"]["name"], json.loads(c["function"]["arguments"]), results[c["id"]])
        for m in sample.messages
        if m["role"] == "assistant" and m.get("tool_calls")
        for c in m["tool_calls"]
    ]


def re_executed(name: str, arguments: dict[str, Any], tools: dict[str, Any] = TOOLS) -> str:
    """The call run again through its implementation (the sandbox, no cache)."""
    impl = ToolDef.from_payload({**tools[name], "meta": tools[name]}).implementation
    assert impl is not None
    result = sandbox.run_sync(impl.code, arguments, entry=impl.entry)
    assert result.ok, result.error
    return cache.encode(result.value)


@pytest.mark.django_db(transaction=True)
def test_three_toy_apis_chain_end_to_end_the_request_states_each_value_and_a_rerun_agrees(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, CHAIN)
    run = bench.start("toolgrad", 1, seed_set=toy_seeds(bench), params=PARAMS)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.kind == "tool_trajectory"
    roles = [m["role"] for m in sample.messages]
    assert roles == ["user", *["assistant", "tool"] * 3, "assistant"]
    assert sample.messages[0]["content"] == REQUEST
    calls = stored_calls(sample)
    assert [(n, a) for n, a, _ in calls] == [
        ("add", {"a": 12, "b": 30}),
        ("celsius_to_fahrenheit", {"celsius": 42}),
        ("word_count", {"text": "the quick brown fox"}),
    ]
    # The chain executed end to end, every step through its implementation.
    assert [r for _, _, r in calls] == ['{"sum":42}', '{"fahrenheit":107.6}', '{"words":4}']
    assert sorted(ToolResponse.objects.values_list("tool", "source")) == [
        ("add", "implementation"),
        ("celsius_to_fahrenheit", "implementation"),
        ("word_count", "implementation"),
    ]
    attempts = sample.extra["metadata"]["attempts"]
    assert [(a["ok"], a["kept"]) for a in attempts] == [(True, True)] * 3
    # Each forward step saw the chain so far with its results (the 42 it chained on).
    second = requests(fake_llm, "one call at a time")[1]
    assert 'Step 1: add({"a": 12, "b": 30}) -> {"sum":42}' in second
    # The request was asked to state 12, 30 and the text, not the chained 42, and does.
    (query_prompt,) = [b for b in fake_llm.requests if QUERY in b["messages"][-1]["content"]]
    assert values_asked(query_prompt) == ["12", "30", "the quick brown fox"]
    chain = [Link(n, a, r) for n, a, r in calls]
    assert missing(sample.messages[0]["content"], chain) == []
    # Re-executed through the implementations: the same results, and every figure of the
    # answer is one of them (or the request's).
    rerun = [re_executed(n, a) for n, a, _ in calls]
    assert rerun == [r for _, _, r in calls]
    answer = sample.messages[-1]["content"]
    assert answer.startswith("12 plus 30 is 42")
    for figure in (42, 107.6, 4):
        assert mentions(answer, figure) and mentions("\n".join(rerun), figure)
    assert sample.judge_score == 5.0
    assert [t["function"]["name"] for t in sample.tools][:3] == [
        "add",
        "celsius_to_fahrenheit",
        "word_count",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_call_that_raises_is_dropped_and_its_critique_repairs_it_at_the_next_step(
    bench: Any, fake_llm: Any
) -> None:
    strict = TOOLS["celsius_to_fahrenheit"] | {
        "implementation": "def celsius_to_fahrenheit(celsius):\n    if celsius < -273.15:\n"
        "        raise ValueError('below absolute zero')\n"
        "    return {'fahrenheit': celsius * 9 / 5 + 32}\n"
    }
    advice = "It failed below absolute zero; call celsius_to_fahrenheit with 25 instead."
    scripted(
        fake_llm,
        [
            calling("celsius_to_fahrenheit", {"celsius": -300}),
            calling("celsius_to_fahrenheit", {"celsius": 25}),
        ],
        backward=in_turn([f"{advice}\nDecision: keep", KEEP]),
        query="What is 25 degrees Celsius in Fahrenheit?",
    )
    seeds = toy_seeds(bench, [strict])
    run = bench.start("toolgrad", 1, seed_set=seeds, params=PARAMS | {"steps": 2})
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert [(n, a) for n, a, _ in stored_calls(sample)] == [
        ("celsius_to_fahrenheit", {"celsius": 25})
    ]
    failed, repaired = sample.extra["metadata"]["attempts"]
    assert failed["ok"] is False and failed["kept"] is False
    assert "ValueError: below absolute zero" in failed["error"]
    assert failed["decision"] == "keep"  # the gradient's keep cannot save a failed call
    assert repaired["kept"] is True
    # The critique of the failure reached the next forward step.
    assert advice in requests(fake_llm, "one call at a time")[1]
    assert ToolResponse.objects.get().arguments == '{"celsius":25}'  # errors are not cached


@pytest.mark.django_db(transaction=True)
def test_a_request_that_leaves_out_a_value_a_call_needs_is_dropped_before_any_answer(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, [CHAIN[0]], query="Add 12 to a number for me.")
    params = PARAMS | {"steps": 1}
    run = bench.start("toolgrad", 1, seed_set=toy_seeds(bench), params=params, futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 0
    items = RunItem.objects.filter(run=run, outcome="filtered")
    assert {i.reason for i in items} == {"query_misses_argument"}
    assert items.first().detail == "add: 30"  # type: ignore[union-attr]
    assert requests(fake_llm, "To answer, these tool calls") == []
    assert requests(fake_llm, "training data for tool use") == []


@pytest.mark.django_db(transaction=True)
def test_a_chain_the_judge_finds_inconsistent_with_its_request_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, [CHAIN[0]], query="Add 12 and 30.", judge="Off topic.\nScore: 2")
    params = PARAMS | {"steps": 1}
    run = bench.start("toolgrad", 1, seed_set=toy_seeds(bench), params=params, futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert {i.reason for i in RunItem.objects.filter(run=run, outcome="filtered")} == {
        "inconsistent"
    }


@pytest.mark.django_db(transaction=True)
def test_a_call_written_as_json_text_counts_and_a_repeat_of_it_is_not_added_twice(
    bench: Any, fake_llm: Any
) -> None:
    text_call = 'Calling now: {"name": "add", "arguments": {"a": 12, "b": 30}}'
    scripted(fake_llm, [text_call, text_call], query="Add 12 and 30.")
    run = bench.start("toolgrad", 1, seed_set=toy_seeds(bench), params=PARAMS | {"steps": 2})
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert [(n, a) for n, a, _ in stored_calls(sample)] == [("add", {"a": 12, "b": 30})]
    first, repeat = sample.extra["metadata"]["attempts"]
    assert first["kept"] and not repeat["kept"]
    assert repeat["error"] == "this call is already in the workflow"


@pytest.mark.django_db(transaction=True)
def test_steps_without_a_usable_call_leave_an_empty_workflow_and_the_item_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, [calling("add", {"a": 12}), "I would add the numbers."])
    params = PARAMS | {"steps": 2}
    run = bench.start("toolgrad", 1, seed_set=toy_seeds(bench), params=params, futility_limit=2)
    assert run.status == RunStatus.FAILED and run.produced == 0
    items = RunItem.objects.filter(run=run, outcome="filtered")
    assert {(i.reason, i.detail) for i in items} == {("empty_workflow", "0 of 2 steps kept")}
    assert not ToolResponse.objects.exists()  # the call missing b was never executed
    assert requests(fake_llm, "Write the request a real person") == []
