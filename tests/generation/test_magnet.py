"""Magnet (#50): paths on the function graph, shaped by insert/merge/split, told as a
conversation; a positive from reference hints and a negative from a wrong hint."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.magnet_graph import edges, outputs_of_result, plan
from generation.runs.models import RunItem
from tests.generation.cases.magnet import CALL_LINE, SEEDS, TOOLS, script

BY_NAME = {t["function"]["name"]: t for t in TOOLS}
OUTPUTS = {"add": {"sum": "integer"}, "word_count": {"words": "integer"},
           "celsius_to_fahrenheit": {"fahrenheit": "number"},
           "reverse_text": {"reversed": "string"}}  # fmt: skip


def run_of(bench: Any, **params: Any) -> Any:
    seeds = import_seed_set(bench.owner, bench.project, name="Demo tools", data=SEEDS)
    return bench.start("magnet", 2, seed_set=seeds, futility_limit=3,
                       params={"path_length": 3, **params})  # fmt: skip


def calls_of(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in message.get("tool_calls") or []]  # fmt: skip


def test_an_output_feeds_a_parameter_of_a_fitting_type() -> None:
    graph = {(e.source, e.target): (e.output, e.param) for e in edges(TOOLS, OUTPUTS)}
    assert graph[("add", "celsius_to_fahrenheit")] == ("sum", "celsius")
    assert graph[("reverse_text", "word_count")] == ("reversed", "text")
    assert graph[("word_count", "add")] == ("words", "a")
    assert ("celsius_to_fahrenheit", "word_count") not in graph  # a number is no text
    assert ("celsius_to_fahrenheit", "add") not in graph  # nor an integer
    assert outputs_of_result('{"sum": 42}') == {"sum": "integer"}


def test_insert_nests_a_feeding_call_and_merge_joins_two_nodes_in_one_turn() -> None:
    graph = edges(TOOLS, OUTPUTS)
    path = ["word_count", "add", "celsius_to_fahrenheit"]
    (inserted, *_rest) = plan(path[1:], BY_NAME, graph, ["insert"], 1.0, random.Random(1))
    assert inserted.op == "insert" and inserted.functions[1] == "add"
    assert inserted.hidden == inserted.functions[0] in {"word_count"}
    merged = plan(path, BY_NAME, graph, ["merge"], 1.0, random.Random(1))
    assert [t.functions for t in merged] == [path[:2], path[2:]]


@pytest.mark.django_db(transaction=True)
def test_a_split_path_asks_for_the_missing_value_and_the_pair_differs_at_the_hinted_call(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = run_of(bench, ops=["split"], op_rate=1.0)
    sft = Sample.objects.filter(run=run, kind="tool_trajectory").first()
    pair = Sample.objects.filter(run=run, kind="preference").first()
    assert sft is not None and pair is not None, list(RunItem.objects.values("reason", "detail"))
    meta = sft.extra["metadata"]
    assert len(meta["path"]) == 3
    assert [t["kind"] for t in meta["turns"]] == ["ask", "call"] * 3
    messages = sft.messages
    asks = [i for i, m in enumerate(messages) if m["role"] == "assistant"
            and not m.get("tool_calls") and messages[i - 1]["role"] == "user"]  # fmt: skip
    assert len(asks) == 3  # a clarification turn per split node
    first = asks[0]
    ((_name, arguments),) = calls_of(messages[first + 2])
    assert messages[first + 1]["role"] == "user"
    withheld = [str(v) for v in arguments.values() if str(v) in messages[first + 1]["content"]]
    assert withheld and not any(v in messages[first - 1]["content"] for v in withheld)
    # the pair: a shared prefix, then the positive's reference call vs the wrong hint's call
    hinted = pair.extra["metadata"]["hinted_turn"]
    assert pair.messages[-1]["role"] == "user"
    assert pair.messages == messages[: len(pair.messages)]
    chosen, rejected = calls_of(pair.chosen[0]), calls_of(pair.rejected[0])
    assert chosen and rejected and chosen != rejected
    assert chosen == [(c["name"], c["arguments"]) for c in meta["turns"][hinted - 1]["calls"]]
    wrong = [(c["name"], c["arguments"]) for c in pair.extra["metadata"]["wrong_calls"]]
    assert rejected == wrong
    assert pair.extra["trajectory_id"] == sft.extra["trajectory_id"]


@pytest.mark.django_db(transaction=True)
def test_a_teacher_that_ignores_its_hint_is_dropped_as_inconsistent(
    bench: Any, fake_llm: Any
) -> None:
    def stubborn(body: dict[str, Any]) -> Any:
        if body["messages"][-1]["role"] == "tool":
            return "Done."
        return {"content": None, "tool_calls": [{"name": "add", "arguments": {"a": 0, "b": 0}}]}

    script(fake_llm, teach=stubborn)
    run = run_of(bench, op_rate=0.0)
    assert not Sample.objects.filter(run=run).exists()
    assert set(RunItem.objects.filter(run=run).values_list("reason", flat=True)) == {
        "hint_inconsistent"
    }


@pytest.mark.django_db(transaction=True)
def test_a_split_turn_whose_user_gives_the_withheld_value_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    def blurts(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        values = [v for _n, args in CALL_LINE.findall(prompt) for v in json.loads(args).values()]
        return "Please help: " + "; ".join(map(str, values)) + "."

    script(fake_llm, speak=blurts)
    run = run_of(bench, ops=["split"], op_rate=1.0)
    assert not Sample.objects.filter(run=run).exists()
    reasons = set(RunItem.objects.filter(run=run).values_list("reason", flat=True))
    assert reasons == {"split_value_given"}
