"""AgentInstruct (#52): one document → at least three instructions of different taxonomy
types; each refined variant links to its parent; the transformed text is the context."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.agentinstruct import first_paragraph
from generation.recipes.agentinstruct_taxonomy import SKILLS
from generation.runs.models import RunStatus
from tests.generation.cases.agentinstruct import (
    EDIT,
    INSTRUCTION,
    JUDGE,
    RESPOND,
    SUGGEST,
    TRANSFORM,
)

TIDES = {
    "title": "How tides work",
    "text": "Tides are the regular rise and fall of the sea. They are caused mainly by the "
    "Moon's gravity pulling on the oceans, with a smaller pull from the Sun.",
    "source": "demo:tides",
}
TRANSCRIPT = (
    "Meeting transcript. Ana: Why does the sea rise twice a day? Ben: Mostly the Moon's "
    "gravity pulls on the oceans; the Sun adds a smaller pull. Ana: So the Moon matters "
    "more than the Sun? Ben: Yes, for tides it does, because it is so much closer to us."
)
ASKED = {  # a distinct instruction per type
    kind: f"Write {about} on tides."
    for skill in SKILLS.values()
    for kind, about in skill.types.items()
}
READING = {"skills": ["reading_comprehension"], "types_per_item": 3, "refinements": 1}


def one_document(bench: Any, doc: dict[str, Any] = TIDES) -> Any:
    return import_seed_set(bench.owner, bench.project, name="Doc", data=json.dumps(doc).encode())


def last(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def scripted(fake: Any, *, score: int = 4, copying_editor: bool = False) -> None:
    """Instructions name their type; the Editor marks what it refined."""

    def instruction(body: dict[str, Any]) -> str:
        kind = re.search(r'of the type "(\w+)"', last(body))
        return f"Instruction: {ASKED.get(kind.group(1) if kind else '', 'What pulls tides?')}"

    def edit(body: dict[str, Any]) -> str:
        parent = re.search(r"^Instruction: (.*)$", last(body), re.M)
        asked = parent.group(1) if parent else ""
        return asked if copying_editor else f"Harder, in two steps: {asked} And why?"

    fake.script(TRANSFORM, TRANSCRIPT)
    fake.script(INSTRUCTION, instruction)
    fake.script(SUGGEST, "1. Ask for the reason too.\n2. Ask for two steps.")
    fake.script(EDIT, edit)
    fake.script(RESPOND, lambda body: f"Ben says the Moon. ({len(last(body))})")
    fake.script(JUDGE, f"Faithful.\nScore: {score}")


@pytest.mark.django_db(transaction=True)
def test_one_document_gives_instructions_of_three_types_refined_with_links_to_parents(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    run = bench.start("agentinstruct", 6, seed_set=one_document(bench), params=READING)
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 6
    metas = {s.extra["metadata"]["id"]: (s, s.extra["metadata"]) for s in samples}
    types = {m["type"] for _, m in metas.values()}
    assert len(types) == 3 and types <= set(SKILLS["reading_comprehension"].types)
    for kind in types:
        seed, seed_meta = metas[f"{kind}.0"]
        refined, meta = metas[f"{kind}.1"]
        # The refined variant links to its parent: by id, by text, and as a Sample row.
        assert meta["parent"] == f"{kind}.0" and seed_meta.get("parent") is None
        assert refined.parent_id == seed.pk
        asked = seed.messages[0]["content"].split("\n\n")[-1]
        assert meta["parent_instruction"] == asked == ASKED[kind]
        assert refined.messages[0]["content"].endswith(f"Harder, in two steps: {asked} And why?")
    # The transformed text is the context: in the user turn and in the metadata.
    for sample, meta in metas.values():
        assert meta["context"] == TRANSCRIPT
        assert sample.messages[0]["content"].startswith(TRANSCRIPT + "\n\n")
        assert meta["skill"] == "reading_comprehension"
        assert meta["form"] in SKILLS["reading_comprehension"].forms
        assert sample.messages[-1]["content"].startswith("Ben says the Moon.")
        assert sample.judge_score == 4.0
    transformed = [b for b in fake_llm.requests if re.search(TRANSFORM, last(b))]
    assert len(transformed) == 1 and "caused mainly by the Moon's gravity" in last(transformed[0])


@pytest.mark.django_db(transaction=True)
def test_responses_below_the_judges_threshold_are_dropped(bench: Any, fake_llm: Any) -> None:
    scripted(fake_llm, score=2)
    run = bench.start("agentinstruct", 2, seed_set=one_document(bench),
                      params=READING, futility_limit=2)  # fmt: skip
    assert run.produced == 0 and run.status == RunStatus.FAILED
    assert "no_instruction_kept" in run.last_error


@pytest.mark.django_db(transaction=True)
def test_an_editor_that_copies_its_parent_adds_no_variant(bench: Any, fake_llm: Any) -> None:
    scripted(fake_llm, copying_editor=True)
    run = bench.start("agentinstruct", 6, seed_set=one_document(bench), params=READING,
                      futility_limit=2)  # fmt: skip
    assert fake_llm.count(EDIT) >= 3
    depths = [s.extra["metadata"]["depth"] for s in Sample.objects.filter(run=run)]
    assert len(depths) >= 3 and set(depths) == {0}


@pytest.mark.django_db(transaction=True)
def test_the_search_skill_answers_after_searching_the_documents(bench: Any, fake_llm: Any) -> None:
    scripted(fake_llm)
    params = {"skills": ["search_qa"], "types_per_item": 1, "refinements": 0}
    run = bench.start("agentinstruct", 1, seed_set=one_document(bench), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.kind == "tool_trajectory"
    _, call, result, answer = sample.messages
    assert call["tool_calls"][0]["function"]["name"] == "search"
    assert "How tides work" in result["content"]
    assert "How tides work" in sample.extra["metadata"]["search"]["results"]
    assert answer["content"].startswith("Ben says the Moon.")
    responded = [last(b) for b in fake_llm.requests if re.search(RESPOND, last(b))]
    assert "How tides work" in responded[0]


def test_an_instruction_is_read_without_its_label_and_after_its_first_paragraph() -> None:
    assert first_paragraph("**Instruction:** Say why.\n\nThis tests inference.") == "Say why."
    assert first_paragraph('"Compare the two pulls."') == "Compare the two pulls."


def test_the_taxonomy_gives_every_skill_forms_and_enough_instruction_types() -> None:
    assert len(SKILLS["reading_comprehension"].types) >= 6
    assert all(s.forms and len(s.types) >= 4 for s in SKILLS.values())
    assert [s.tool for s in SKILLS.values() if s.tool] == ["docsearch"]
