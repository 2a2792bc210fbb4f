"""KG2Tool (#48): relations become APIs, FOL patterns are grounded on the graph, and the
solution path executed on the graph returns exactly the sampled answers; the question must
name its anchors and not give the answer away."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.recipes.kg2tool import first_question, mentions
from generation.recipes.kg2tool_graph import Graph
from generation.recipes.kg2tool_patterns import PATTERNS, Grounder, evaluate, solve, turns
from generation.runs.models import RunStatus
from tests.generation.cases.kg2tool import SEEDS, anchors_in

TOY = [
    ("Alice", "friend_of", "Beth"),
    ("Alice", "friend_of", "Carl"),
    ("Dana", "friend_of", "Carl"),
    ("Beth", "lives_in", "Paris"),
    ("Carl", "lives_in", "Rome"),
    ("Dana", "lives_in", "Oslo"),
    ("Alice", "lives_in", "Oslo"),
]
TYPES = {"friend_of": ("person", "person"), "lives_in": ("person", "city")}


def toy_jsonl() -> bytes:
    rows = [{"head": h, "relation": r, "tail": t, "head_type": TYPES[r][0],
             "tail_type": TYPES[r][1]} for h, r, t in TOY]  # fmt: skip
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def graph_of(data: bytes) -> Graph:
    rows = [SeedRow(i, "kg_triple", json.loads(line), "") for i, line in
            enumerate(data.decode().splitlines(), 1)]  # fmt: skip
    return Graph.from_seeds(rows)


def walk(name: str, entities: list[str]) -> list[str]:
    """What an API returns, read straight off the toy triples (not the recipe's graph)."""
    inverse = name.startswith("get_inverse_")
    relation = next(r for r in TYPES if name.startswith(f"get_{'inverse_' * inverse}{r}_of_"))
    if inverse:
        return sorted({h for h, r, t in TOY if r == relation and t in entities})
    return sorted({t for h, r, t in TOY if r == relation and h in entities})


def script(fake: Any) -> dict[str, str]:
    """Questions that name the prompt's anchors; the returned dict changes them: "say" replaces
    the question, "add" is appended to it."""
    change = {"say": "", "add": ""}

    def reply(body: dict[str, Any]) -> str:
        asked = f"Question: Which ones go with {' and '.join(anchors_in(body))}?"
        return (change["say"] or asked) + change["add"]

    fake.script(r"Turn a knowledge-graph query into one question", reply)
    return change


def test_every_relation_becomes_an_api_per_head_type_with_its_inverse_and_three_set_apis() -> None:
    graph = graph_of(toy_jsonl())
    assert sorted(graph.apis) == [
        "get_friend_of_of_person", "get_inverse_friend_of_of_person",
        "get_inverse_lives_in_of_city", "get_lives_in_of_person",
    ]  # fmt: skip
    assert graph.call("get_inverse_lives_in_of_city", {"entities": ["Oslo"]}) == ["Alice", "Dana"]
    assert graph.call("get_negation_of", {"entities": ["a", "b"], "excluded": ["b"]}) == ["a"]
    tools = graph.tools(["get_lives_in_of_person", "get_intersection_of"])
    assert [t["function"]["name"] for t in tools] == ["get_lives_in_of_person",
                                                      "get_intersection_of"]  # fmt: skip
    assert "--lives_in-->" in tools[0]["function"]["description"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_pattern_grounds_on_the_demo_graph_and_its_calls_return_the_sampled_answers(
    pattern: str,
) -> None:
    graph = graph_of(SEEDS)
    grounder = Grounder(graph)
    found = [grounder.instantiate(pattern, random.Random(k), tries=30, max_answers=10)
             for k in range(5)]  # fmt: skip
    grounded = [g for g in found if g is not None]
    assert grounded, pattern
    for inst in grounded:
        calls, result = solve(graph, inst.query)
        assert result == inst.answers == evaluate(graph, inst.query) and result
        assert not set(result) & set(inst.anchors)
        # Calls are numbered as shown, turn by turn, and a turn needs only earlier results.
        assert [c.id for c in calls] == [f"call_{k}" for k in range(len(calls))]
        assert [c.wave for c in calls] == sorted(c.wave for c in calls)
        if pattern.endswith("n") or pattern in ("inp", "pin", "pni"):
            negation = next(c for c in calls if c.name == "get_negation_of")
            # The negated branch removes something, and what it removes is not an answer.
            removed = set(negation.arguments["entities"]) - set(negation.result)
            assert removed and not removed & set(result)


def test_independent_calls_of_a_2i_query_share_one_assistant_turn() -> None:
    graph = graph_of(SEEDS)
    inst = Grounder(graph).instantiate("2i", random.Random(3), tries=30, max_answers=10)
    assert inst is not None
    calls, _ = solve(graph, inst.query)
    messages = turns(calls)
    assistant = [m for m in messages if m["role"] == "assistant"]
    assert [len(m["tool_calls"]) for m in assistant] == [2, 1]
    assert assistant[1]["tool_calls"][0]["function"]["name"] == "get_intersection_of"
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == [
        "call_0", "call_1", "call_2"
    ]  # fmt: skip


def test_the_question_is_the_first_line_without_a_label_and_names_match_as_whole_words() -> None:
    assert first_question('\n  Question: "Where does Ada live?"\nBecause...') == (
        "Where does Ada live?"
    )
    assert first_question("   \n") == ""
    assert mentions("Where do  ada BROOK's friends live?", "Ada Brook")
    assert not mentions("Where does Adam live?", "Ada")


@pytest.mark.django_db(transaction=True)
def test_pattern_2p_on_a_toy_graph_gives_two_chained_calls_that_return_exactly_the_answers(
    bench: Any, fake_llm: Any
) -> None:
    seeds = import_seed_set(bench.owner, bench.project, name="Toy KG", data=toy_jsonl())
    assert seeds.kinds == ["kg_triple"]
    script(fake_llm)
    run = bench.start("kg2tool", 3, seed_set=seeds, params={"patterns": ["2p"]})
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 3
    for s in samples:
        meta = s.extra["metadata"]
        user, first, r1, second, r2, answer = s.messages
        assert meta["pattern"] == "2p" and meta["calls"] == 2
        (a,) = meta["anchors"]
        # The NL query mentions the anchor entity; the first call starts from it.
        assert user["role"] == "user" and a in user["content"]
        call1, call2 = first["tool_calls"][0]["function"], second["tool_calls"][0]["function"]
        args1, args2 = json.loads(call1["arguments"]), json.loads(call2["arguments"])
        assert args1 == {"entities": [a]}
        # Chained: the second call takes the first call's result, checked off the triples.
        assert json.loads(r1["content"]) == walk(call1["name"], [a]) == args2["entities"]
        assert json.loads(r2["content"]) == walk(call2["name"], args2["entities"])
        assert json.loads(r2["content"]) == meta["answers"] and meta["answers"]
        assert s.extra["gold"] == ", ".join(meta["answers"])
        assert all(x in answer["content"] for x in meta["answers"])
        names = {t["function"]["name"] for t in s.tools}
        assert {call1["name"], call2["name"]} <= names
        assert len(s.seed_ids) >= 2  # the triples the path walked


@pytest.mark.django_db(transaction=True)
def test_a_question_without_its_anchor_or_with_an_answer_in_it_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    seeds = import_seed_set(bench.owner, bench.project, name="Toy KG", data=toy_jsonl())
    change = script(fake_llm)
    change["say"] = "Where do they live?"
    run = bench.start("kg2tool", 2, seed_set=seeds, futility_limit=6)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert run.filtered["query_misses_anchor"] > 0

    # Naming every entity of the graph gives every answer away.
    everyone = ", ".join(sorted({x for h, _, t in TOY for x in (h, t)}))
    change.update(say="", add=f" Is it one of {everyone}?")
    leaky = bench.start("kg2tool", 2, seed_set=seeds, futility_limit=6)
    assert leaky.produced == 0 and leaky.filtered["query_leaks_answer"] > 0
