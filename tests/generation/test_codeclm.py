"""CodecLM (#26): metadata, Self-Rubrics rounds, and the strong-vs-target score gap."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.codeclm_parse import parse_metadata, parse_rubrics
from generation.runs.models import RunItem, RunStatus

SEED = b'{"instruction": "Plan a day out in Porto for two.", "output": "x"}\n'
METADATA = {"use_case": "Trip planning", "skills": ["Budgeting", "itinerary design", "transport"]}
HARDER = " Keep it under 300 euros."
_INSTRUCTION = re.compile(r"<<<\n(.*?)\n>>>", re.S)


def script(fake: Any, target_scores: list[int]) -> None:
    """The strong answer always scores 9; the target's scores the given list, round by round
    (a round is told by how many times the instruction was made harder)."""
    fake.script(r"^Describe the instruction below", json.dumps(METADATA))
    fake.script(r"^Write one new instruction", "Instruction: Plan a weekend in Lisbon.")
    fake.script(r"^Use case: ", "Rubrics:\n- realism\nActions:\n- Add a budget limit")
    fake.script(
        r"^Improve the instruction below",
        lambda body: _INSTRUCTION.search(body["messages"][-1]["content"]).group(1) + HARDER,
    )

    def judge(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        if "STRONG" in text:
            return "Thorough.\nScore: 9"
        rounds = _INSTRUCTION.search(text).group(1).count(HARDER)
        return f"Thin.\nScore: {target_scores[min(rounds, len(target_scores)) - 1]}"

    fake.script(r"^Rate how well the response", judge)
    fake.script(
        r"euros\.\s*$",
        lambda body: (
            "STRONG: a day-by-day plan within budget."
            if body["model"] == "strong-model"
            else "A plan."
        ),
    )


def start(bench: Any, **params: Any) -> Any:
    strong = project_services.save_endpoint(
        bench.owner, bench.project, name="strong", base_url=bench.endpoint.base_url,
        chat_model="strong-model", max_concurrency=4,
    )  # fmt: skip
    seed_set = import_seed_set(bench.owner, bench.project, name="One", data=SEED)
    params = {"instructions_per_seed": 1, **params}
    return bench.start("codeclm", 5, seed_set=seed_set, endpoints={"strong": strong}, params=params)


def test_metadata_reads_from_json_or_lines_and_skills_are_normalised() -> None:
    meta = parse_metadata('```json\n{"Use case": "Trip planning", "skills": "Maps, Budgets"}\n```')
    assert meta is not None and (meta.use_case, meta.skills) == ("Trip planning", ["map", "budget"])
    meta = parse_metadata("Use case: poetry\nSkills:\n- Rhyme schemes\n- meter")
    assert meta is not None and meta.skills == ["rhyme scheme", "meter"]
    assert parse_metadata("I cannot tell.") is None
    assert parse_metadata('{"use_case": "poetry", "skills": []}') is None


def test_actions_come_from_their_section_or_the_reply_itself() -> None:
    rubrics, actions = parse_rubrics("Rubrics:\n- realism\nActions:\n- Add a limit\n- Ask twice")
    assert rubrics == "- realism" and actions == ["Add a limit", "Ask twice"]
    assert parse_rubrics("1. Add a limit\n2. Ask twice")[1] == ["Add a limit", "Ask twice"]
    assert parse_rubrics("Make it need a deadline.")[1] == ["Make it need a deadline."]
    assert parse_rubrics("Rubrics:\n- realism")[1] == []


@pytest.mark.django_db(transaction=True)
def test_strong_nine_against_target_four_keeps_the_strong_answer_with_its_metadata(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, [4])
    run = start(bench)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (sample,) = Sample.objects.filter(run=run)
    assert sample.messages[0]["content"] == "Plan a weekend in Lisbon." + HARDER
    assert sample.messages[1]["content"].startswith("STRONG")
    assert sample.extra["metadata"]["use_case"] == "Trip planning"
    assert sample.extra["tags"] == sample.extra["metadata"]["skills"]
    assert set(sample.extra["tags"]) <= {"budgeting", "itinerary design", "transport"}
    assert sample.extra["scores"] == {"strong": 9.0, "target": 4.0, "gap": 5.0}
    assert sample.extra["rounds"] == 1 and sample.extra["target_response"] == "A plan."
    assert sample.judge_score == 9.0
    assert sorted(Judgement.objects.filter(sample=sample).values_list("score", flat=True)) == [
        4.0,
        9.0,
    ]
    calls = sample.extra["lineage"]["calls"]
    answered = {(c["role"], c["model"]) for c in calls if c["template"] == "respond"}
    assert answered == {("strong", "strong-model"), ("policy", "fake-model")}
    assert sample.model == "strong-model"  # the kept response is the strong LLM's


@pytest.mark.django_db(transaction=True)
def test_nine_against_nine_sends_the_instruction_back_to_self_rubrics(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, [9, 4])
    run = start(bench)
    (sample,) = Sample.objects.filter(run=run)
    assert sample.extra["rounds"] == 2
    assert [h["gap"] for h in sample.extra["history"]] == [0.0, 5.0]
    assert sample.messages[0]["content"] == "Plan a weekend in Lisbon." + HARDER * 2
    assert fake_llm.count(r"^Improve the instruction below") == 2


@pytest.mark.django_db(transaction=True)
def test_a_gap_that_stays_small_for_every_round_drops_the_instruction(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, [9])
    run = start(bench, rubric_rounds=2)
    assert run.produced == 0
    item = RunItem.objects.get(run=run, reason="no_score_gap")
    assert "[0.0, 0.0]" in item.detail
    assert fake_llm.count(r"^Improve the instruction below") == 2
