"""Self-Rewarding (#19): N responses, additive 5-point judge, best vs worst, ties dropped."""

from __future__ import annotations

import re
from typing import Any

import pytest

from curation.samples.models import Judgement
from generation.judge import parse_score
from generation.recipes.kit.item import Drop
from generation.recipes.kit.pairing import best_vs_worst
from generation.runs.models import RunStatus

RESPONSES = ["resp-A", "resp-B", "resp-C", "resp-D"]
# Averaged over 3 judge samples: 4.67, 3.0, 3.0, 1.33 (the row's 4.7 / 3.0 / 3.0 / 1.3).
JUDGED = {
    "resp-A": ["Good. Score: 5", "Score: 5", "Fine.\nScore: 4"],
    "resp-B": ["Score: 3"] * 3,
    "resp-C": ["Score: 3"] * 3,
    "resp-D": ["Score: 1", "Score: 1", "Score: 2"],
}


def judged_response(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    return re.search(r"resp-[A-D]", text.split("<response>")[1]).group(0)


def script(fake: Any, judged: dict[str, list[str]]) -> None:
    fake.script(r"additive 5-point", lambda body: judged[judged_response(body)])
    fake.script(r"Come up with a series of tasks", "Describe the water cycle in two sentences.")
    fake.script(
        r"water cycle|Write a short poem|Classify|Convert|Summarise|Give three|Explain",
        lambda body: RESPONSES,
    )


def test_scores_parse_from_the_last_score_line_and_a_missing_score_is_dropped() -> None:
    assert parse_score("Reasons...\nScore: 4") == 4.0
    assert parse_score("Score: 2 at first, but on reflection Score: 3") == 3.0
    assert parse_score("I would give it four points.") is None
    assert parse_score("Score: 7") is None


def test_the_pair_is_the_best_against_the_worst_and_a_tie_gives_none() -> None:
    assert best_vs_worst([4.7, 3.0, 3.0, 1.3]) == (0, 3)
    with pytest.raises(Drop, match="tie"):
        best_vs_worst([3.0, 3.0, 3.0, 3.0])
    assert best_vs_worst([None, 4.0, None, 2.0]) == (1, 3)
    with pytest.raises(Drop, match="unjudgeable"):
        best_vs_worst([None, 4.0, None, None])


@pytest.mark.django_db(transaction=True)
def test_a_run_pairs_4_7_against_1_3_and_stores_both_judgements(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, JUDGED)
    run = bench.start("self_rewarding", 1)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = run.samples.get()
    assert sample.kind == "preference"
    assert sample.messages == [
        {"role": "user", "content": "Describe the water cycle in two sentences."}
    ]
    assert sample.chosen[0]["content"] == "resp-A"
    assert sample.rejected[0]["content"] == "resp-D"
    assert sample.extra["scores"] == pytest.approx([4.667, 3.0, 3.0, 1.333], abs=0.01)
    assert sample.extra["source"] == "ai_judge:self_rewarding"
    assert len(sample.seed_ids) == len(bench.seed_set.seeds.all())  # 6 seeds < 8 few-shot
    assert Judgement.objects.filter(sample=sample).count() == 2
    # N=4 responses come from one request with n=4; each is judged with n=3.
    respond = [r for r in fake_llm.requests if r["messages"][-1]["content"].startswith("Describe")]
    assert respond[0]["n"] == 4
    assert respond[0]["temperature"] == 0.7 and respond[0]["top_p"] == 0.9


@pytest.mark.django_db(transaction=True)
def test_all_equal_scores_give_no_pair_and_the_run_says_why(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, {k: ["Score: 3"] * 3 for k in JUDGED})
    run = bench.start("self_rewarding", 3, params={"generate_prompts": False})
    assert run.status == RunStatus.FAILED
    assert run.produced == 0
    assert run.filtered == {"tie": 6}
    assert "ran out of work without a sample" in run.last_error
    assert "tie (6)" in run.last_error


@pytest.mark.django_db(transaction=True)
def test_unparsable_judgements_are_dropped_not_counted_as_zero(bench: Any, fake_llm: Any) -> None:
    judged = dict(JUDGED, **{"resp-D": ["no idea"] * 3})
    script(fake_llm, judged)
    run = bench.start("self_rewarding", 1)
    sample = run.samples.get()
    assert sample.rejected[0]["content"] in ("resp-B", "resp-C")
    assert sample.extra["scores"][3] is None


def test_the_new_prompt_is_read_with_or_without_the_opening_tag() -> None:
    from generation.recipes.self_rewarding import first_task

    assert first_task("Name three rivers.</task>") == "Name three rivers."
    assert first_task("<task>Name three rivers.") == "Name three rivers."  # a real 0.5B reply
    assert first_task("  <task>Name three rivers.\n<task>Another") == "Name three rivers."
    assert first_task("</task>") == ""
