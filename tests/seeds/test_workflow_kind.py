"""Workflow seeds (Self-Talk): step lists become chains, graphs keep their ids and branches,
and a broken graph is refused with its line and field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.seeds.kinds import KINDS
from curation.seeds.kinds.detect import detect
from curation.seeds.parsing import ParsedSeed, SeedImportError, parse_seed_file
from curation.seeds.services import import_seed_set
from tests.factories import ProjectFactory, UserFactory

LIST = {
    "name": "return_item",
    "goal": "Help a customer return an item.",
    "steps": ["Greet the customer.", "Ask for the order number.", "Confirm the return."],
}
GRAPH = {
    "goal": "Book a table.",
    "steps": [
        {"id": "greet", "text": "Greet the guest.", "next": ["date", "cancel"]},
        {"id": "date", "text": "Ask for the date and the party size."},
        {"id": "confirm", "text": "Confirm the booking.", "next": []},
        {"id": "cancel", "text": "Cancel an existing booking.", "next": "confirm"},
    ],
}


def jsonl(*records: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def one(record: dict[str, Any], **options: Any) -> ParsedSeed:
    [seed] = parse_seed_file(jsonl(record), **options)
    return seed


def refused(record: dict[str, Any]) -> SeedImportError:
    with pytest.raises(SeedImportError) as caught:
        parse_seed_file(jsonl(record), kind="workflow")
    return caught.value


def test_a_list_of_steps_becomes_a_chain_that_ends_at_its_last_step() -> None:
    seed = one(LIST)
    assert seed.kind == "workflow" and detect(LIST) == "workflow"
    assert seed.payload["steps"] == [
        {"id": "1", "text": "Greet the customer.", "next": ["2"]},
        {"id": "2", "text": "Ask for the order number.", "next": ["3"]},
        {"id": "3", "text": "Confirm the return.", "next": []},
    ]
    assert seed.payload["name"] == "return_item" and seed.payload["meta"] == {}
    assert seed.text.splitlines()[-1] == "3. Confirm the return."


def test_a_graph_keeps_ids_and_branches_and_a_step_without_next_leads_to_the_next() -> None:
    steps = one(GRAPH).payload["steps"]
    assert [(s["id"], s["next"]) for s in steps] == [
        ("greet", ["date", "cancel"]),
        ("date", ["confirm"]),
        ("confirm", []),
        ("cancel", ["confirm"]),
    ]


def test_step_ids_may_be_numbers_and_unknown_keys_are_kept() -> None:
    record = {
        "title": "t",
        "description": "A goal.",
        "owner": "ops",
        "steps": [{"id": 1, "text": "A.", "next": [2], "hint": "x"}, {"id": 2, "text": "B."}],
    }
    seed = one(record, kind="workflow")
    assert seed.payload["name"] == "t" and seed.payload["goal"] == "A goal."
    assert seed.payload["steps"][0] == {"id": "1", "text": "A.", "next": ["2"],
                                        "meta": {"hint": "x"}}  # fmt: skip
    assert seed.payload["meta"] == {"owner": "ops"}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "must be a non-empty list of steps, got an empty list"),
        ("Greet. Ask.", "must be a non-empty list of steps, got a string"),
        ([{"id": "a", "text": "A.", "next": ["b"]}], "next names 'b', which is not a step id"),
        ([{"id": "a", "text": "A."}, {"id": "a", "text": "B."}], "step id 'a' is used twice"),
        ([{"id": "a"}], "steps[0].text must be a non-empty string, got null"),
        ([3], "field 'steps[0]' must be a string or an object, got a number"),
        (["One line.\nAnother line."], "must be one line"),
    ],
)
def test_a_broken_workflow_is_refused_with_its_line_and_field(steps: Any, message: str) -> None:
    error = refused({"goal": "G.", "steps": steps})
    assert message in str(error) and error.line == 1
    assert str(error).startswith("line 1: ")


def test_a_workflow_needs_a_goal() -> None:
    assert "'goal' must be a non-empty string" in str(refused({"steps": ["A."]}))


def test_too_many_steps_are_refused() -> None:
    assert "the limit is 50" in str(refused({"goal": "G.", "steps": ["A."] * 51}))


def test_the_kind_is_registered_with_an_example_that_imports_as_a_workflow() -> None:
    spec = KINDS["workflow"]
    assert spec.label == "Workflow" and spec.required == ("goal", "steps")
    assert one(dict(spec.example)).kind == "workflow"


@pytest.mark.django_db
def test_a_file_of_workflows_and_personas_imports_as_one_set_with_both_kinds() -> None:
    owner: Any = UserFactory()
    project: Any = ProjectFactory()
    persona = {"name": "Ada", "persona": "A retired engineer who reads the fine print."}
    seed_set = import_seed_set(owner, project, name="Mixed", data=jsonl(LIST, persona, GRAPH))
    assert seed_set.kinds == ["persona", "workflow"]
    assert [s.kind for s in seed_set.seeds.order_by("position")] == [
        "workflow", "persona", "workflow"
    ]  # fmt: skip
