"""ToolAlpaca (#42): the brief "CatFacts" becomes a doc that validates against the doc
schema, a user request, a ReAct trajectory that calls only documented functions with
schema-valid arguments, and simulated responses that match the response schema."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.toolalpaca_doc import DOC_SCHEMA, doc_problem
from generation.recipes.toolalpaca_react import numbered, parse_move
from generation.runs.models import RunItem, RunStatus, ToolResponse
from generation.tools import bfcl
from tests.generation.cases.toolalpaca import ASSISTANT, DOCUMENT, INSTRUCTIONS, SIMULATE

CAT_FACTS = {
    "type": "function",
    "function": {"name": "CatFacts", "description": "Daily cat facts."},
    "category": "Animals",
}
FACTS_RESPONSE = {
    "type": "object",
    "properties": {
        "breed": {"type": "string"},
        "facts": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["breed", "facts"],
}
DOC = {
    "description": "Facts about cats, random or by breed.",
    "functions": [
        {
            "name": "getRandomFact",
            "description": "One random cat fact.",
            "parameters": {
                "type": "object",
                "properties": {"max_length": {"type": "integer", "description": "Characters"}},
                "required": [],
            },
            "response": {
                "type": "object",
                "properties": {"fact": {"type": "string"}},
                "required": ["fact"],
            },
        },
        {
            "name": "getFactsByBreed",
            "description": "Facts about one breed.",
            "parameters": {
                "type": "object",
                "properties": {
                    "breed": {"type": "string", "description": "Breed name"},
                    "limit": {"type": "integer", "description": "How many facts"},
                },
                "required": ["breed"],
            },
            "response": FACTS_RESPONSE,
        },
    ],
}
REQUEST = "Tell me two facts about Siamese cats."
CALL = (
    "Thought: I need facts about the breed.\nAction: getFactsByBreed\n"
    'Action Input: {"breed": "Siamese", "limit": 2}'
)
FINAL = "Thought: I now know the answer.\nFinal Answer: Siamese cats are vocal and blue-eyed."
SIMULATED = {"breed": "Siamese", "facts": ["They are vocal.", "They have blue eyes."]}
ONE = {"instructions_per_tool": 1, "max_steps": 3}


def cat_facts(bench: Any) -> Any:
    return import_seed_set(
        bench.owner, bench.project, name="Briefs", data=json.dumps(CAT_FACTS).encode()
    )


def react(first: str, then: str = FINAL) -> Callable[[dict[str, Any]], str]:
    """The assistant's steps: `first` before any Observation, `then` after one."""

    def reply(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        return then if re.search(r"^Observation:", prompt, re.M) else first

    return reply


def scripted(
    fake: Any, *, doc: Any = DOC, first: str = CALL, then: str = FINAL, tool: Any = SIMULATED
) -> None:
    fake.script(DOCUMENT, json.dumps(doc))
    fake.script(INSTRUCTIONS, f"1. {REQUEST}")
    fake.script(ASSISTANT, react(first, then))
    fake.script(SIMULATE, json.dumps(tool), json=True)


def filtered(run: Any) -> set[str]:
    return {i.reason for i in RunItem.objects.filter(run=run, outcome="filtered")}


def test_the_doc_schema_takes_the_cat_facts_doc_and_names_what_is_wrong_with_others() -> None:
    assert doc_problem(DOC) == ""
    jsonschema.validate(DOC, DOC_SCHEMA)
    no_response = {"functions": [{k: v for k, v in DOC["functions"][0].items() if k != "response"}]}
    assert "'response' is a required property" in doc_problem(no_response)
    bad_type = json.loads(json.dumps(DOC))
    bad_type["functions"][1]["parameters"]["properties"]["breed"]["type"] = "text"
    assert "functions/1/parameters/properties/breed/type" in doc_problem(bad_type)
    undocumented = json.loads(json.dumps(DOC))
    undocumented["functions"][1]["parameters"]["required"] = ["breed", "colour"]
    assert "requires undocumented ['colour']" in doc_problem(undocumented)
    twice = {"functions": [DOC["functions"][0], DOC["functions"][0]]}
    assert doc_problem(twice) == "two functions have the same name"
    assert doc_problem({"functions": []}) and doc_problem("not a doc")


def test_a_react_step_is_read_as_a_call_a_final_answer_or_a_named_problem() -> None:
    call = parse_move(CALL)
    assert (call.thought, call.action, call.arguments) == (
        "I need facts about the breed.",
        "getFactsByBreed",
        {"breed": "Siamese", "limit": 2},
    )
    decorated = parse_move(
        'Action: `getRandomFact()`\nAction Input: ```json\n{"max_length": 80}\n```'
    )
    assert (decorated.action, decorated.arguments) == ("getRandomFact", {"max_length": 80})
    assert parse_move("Thought: easy\nAction: getRandomFact\nAction Input: None").arguments == {}
    final = parse_move(FINAL)
    assert final.final == "Siamese cats are vocal and blue-eyed." and not final.action
    assert (
        "not a JSON object" in parse_move("Action: getFactsByBreed\nAction Input: Siamese").problem
    )
    assert parse_move("Action: getFactsByBreed").problem == "an Action without an Action Input"
    assert parse_move("I think cats are nice.").problem == "neither an Action nor a Final Answer"


def test_the_user_agents_requests_are_its_numbered_lines_without_repeats() -> None:
    text = f"Here you go:\n1. {REQUEST}\n2. {REQUEST}\n3) Give me one random cat fact.\n4. Hi"
    assert numbered(text, 5) == [REQUEST, "Give me one random cat fact."]
    assert numbered(text, 1) == [REQUEST]


@pytest.mark.django_db(transaction=True)
def test_cat_facts_becomes_a_documented_trajectory_with_schema_valid_calls_and_responses(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    run = bench.start("toolalpaca", 1, seed_set=cat_facts(bench), params=ONE)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.kind == "tool_trajectory"
    doc = sample.extra["metadata"]["documentation"]
    jsonschema.validate(doc, DOC_SCHEMA)
    assert doc_problem(doc) == "" and doc == DOC
    documented = {f["name"]: f for f in doc["functions"]}
    assert [t["function"]["name"] for t in sample.tools] == list(documented)

    user, called, result, answer = sample.messages
    assert user == {"role": "user", "content": REQUEST}
    assert called["content"] == "I need facts about the breed."
    calls = bfcl.calls_from_openai(called["tool_calls"])
    assert {c.name for c in calls} <= set(documented)
    assert bfcl.check(calls, sample.tools, None).valid
    assert result["role"] == "tool" and result["tool_call_id"] == called["tool_calls"][0]["id"]
    jsonschema.validate(json.loads(result["content"]), documented["getFactsByBreed"]["response"])
    assert answer == {"role": "assistant", "content": "Siamese cats are vocal and blue-eyed."}
    assert sample.extra["tags"] == ["tool:CatFacts", "Animals"]

    # The simulator was asked under the function's response schema, and cached the answer
    # under a name scoped to this doc.
    asked = [b for b in fake_llm.requests if re.search(SIMULATE, b["messages"][-1]["content"])]
    assert asked and all(
        b["response_format"]["json_schema"]["schema"] == FACTS_RESPONSE for b in asked
    )
    (row,) = ToolResponse.objects.filter(project=bench.project)
    assert row.tool.startswith("CatFacts.getFactsByBreed@") and row.source == "simulated"
    assert json.loads(row.response) == SIMULATED
    assert sample.extra["metadata"]["calls"] == [
        {"name": row.tool, "source": "simulated", "origin": "simulated"}
    ]


@pytest.mark.parametrize(
    ("first", "reason", "detail"),
    [
        (
            'Thought: hm\nAction: getBreedImage\nAction Input: {"breed": "Siamese"}',
            "undocumented_function",
            "getBreedImage",
        ),
        (
            'Thought: hm\nAction: getFactsByBreed\nAction Input: {"breed": 5}',
            "invalid_arguments",
            "breed",
        ),
        (
            'Thought: hm\nAction: getFactsByBreed\nAction Input: {"limit": 2}',
            "invalid_arguments",
            "'breed' is missing",
        ),
        (
            "Thought: hm\nAction: getFactsByBreed\nAction Input: the Siamese",
            "malformed_action",
            "not a JSON object",
        ),
        ("Siamese cats are lovely.", "malformed_action", "neither an Action nor a Final Answer"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_bad_action_drops_the_trajectory_before_any_tool_is_asked(
    bench: Any, fake_llm: Any, first: str, reason: str, detail: str
) -> None:
    scripted(fake_llm, first=first)
    run = bench.start("toolalpaca", 1, seed_set=cat_facts(bench), params=ONE, futility_limit=2)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert filtered(run) == {reason}
    assert detail in RunItem.objects.filter(run=run, outcome="filtered").first().detail  # type: ignore[union-attr]
    assert fake_llm.count(SIMULATE) == 0 and not ToolResponse.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_assistant_that_never_answers_is_dropped_after_max_steps_calls(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, then=CALL)
    run = bench.start("toolalpaca", 1, seed_set=cat_facts(bench), params=ONE, futility_limit=1)
    assert run.status == RunStatus.FAILED and filtered(run) == {"no_final_answer"}
    items = RunItem.objects.filter(run=run).count()  # items may run side by side
    # Each asked max_steps calls and a last step; the same call was simulated once and then
    # served from the cache.
    assert fake_llm.count(ASSISTANT) == (ONE["max_steps"] + 1) * items
    assert 1 <= fake_llm.count(SIMULATE) <= items and ToolResponse.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_doc_that_fails_the_doc_schema_is_dropped_and_no_agent_is_asked(
    bench: Any, fake_llm: Any
) -> None:
    broken = json.loads(json.dumps(DOC))
    del broken["functions"][1]["response"]
    scripted(fake_llm, doc=broken)
    run = bench.start("toolalpaca", 1, seed_set=cat_facts(bench), params=ONE, futility_limit=1)
    assert run.status == RunStatus.FAILED and filtered(run) == {"invalid_doc"}
    assert fake_llm.count(INSTRUCTIONS) == 0 and fake_llm.count(ASSISTANT) == 0


@pytest.mark.django_db(transaction=True)
def test_a_simulated_response_outside_the_response_schema_drops_it_and_is_not_cached(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, tool={"breed": "Siamese"})  # no "facts"
    fake_llm.script(r"That reply is not acceptable", '{"breed": "Siamese"}', json=True)
    run = bench.start("toolalpaca", 1, seed_set=cat_facts(bench), params=ONE, futility_limit=1)
    assert run.status == RunStatus.FAILED and filtered(run) == {"tool_error"}
    assert not ToolResponse.objects.exists()
