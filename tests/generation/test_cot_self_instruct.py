"""CoT-Self-Instruct (#27): reasoned new prompts; Answer-Consistency and RIP keep or drop them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.cot_self_instruct_rip import (
    POOL_LIMIT,
    STATE_KEY,
    admit,
    new_question,
    percentile,
    tagged,
)
from generation.recipes.registry import get_recipe
from generation.runs.driver import drive
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.cases import counter, words

SEEDS = [
    {"question": "Tom has 3 bags of 4 apples. How many apples does he have?", "answer": "12"},
    {"question": "A car drives 50 km an hour for 2 hours. How far does it go?", "answer": "100"},
    {"question": "What is 15 minus 8?", "answer": "7"},
]


def qa_seeds(bench: Any) -> Any:
    data = "\n".join(json.dumps(s) for s in SEEDS).encode()
    return import_seed_set(bench.owner, bench.project, name="QA", data=data)


def script_problem(fake: Any, solutions: list[str]) -> None:
    tick = counter()
    fake.script(
        r"You write new problems",
        lambda body: (
            "The seeds are one-step arithmetic; I add a second step.\n"
            f"<question>\n{words(tick(), 10)}: what is 3 + 4?\n</question>\n"
            "<answer>\\boxed{7}</answer>"
        ),
    )
    fake.script(r"^Solve the problem below", lambda body: solutions)


def solutions(right: int, wrong: str, total: int = 16) -> list[str]:
    good = [f"3 + 4 = 7, way {i}.\n\\boxed{{7}}" for i in range(right)]
    return good + [f"I get {wrong}, way {i}.\n\\boxed{{{wrong}}}" for i in range(total - right)]


@pytest.mark.django_db(transaction=True)
def test_a_generated_answer_7_that_ten_of_sixteen_solutions_reach_is_kept(
    bench: Any, fake_llm: Any
) -> None:
    script_problem(fake_llm, solutions(10, "5"))
    run = bench.start("cot_self_instruct", 1, seed_set=qa_seeds(bench))
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.messages[0]["content"].endswith(": what is 3 + 4?")
    assert sample.messages[1]["content"].endswith("\\boxed{7}")
    assert sample.extra["gold"] == "7"
    assert sample.extra["vote"] == {"answer": "7", "share": 0.625, "count": 10, "of": 16}
    meta = sample.extra["metadata"]
    assert meta["plan"].startswith("The seeds are one-step arithmetic")
    assert len(meta["seeds"]) == 2 and set(meta["seeds"]) <= {s["question"] for s in SEEDS}
    assert len(sample.seed_ids) == 2
    solve = [r for r in fake_llm.requests if r["messages"][-1]["content"].startswith("Solve")]
    assert solve[0]["n"] == 16


@pytest.mark.django_db(transaction=True)
def test_when_ten_of_sixteen_solutions_say_8_the_generated_7_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    script_problem(fake_llm, solutions(6, "8"))
    run = bench.start("cot_self_instruct", 1, seed_set=qa_seeds(bench), futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert set(run.filtered) == {"inconsistent_answer"}
    item = RunItem.objects.filter(run=run, reason="inconsistent_answer").first()
    assert item is not None and "majority '8' (10/16) vs generated '7'" in item.detail


@pytest.mark.django_db(transaction=True)
def test_a_tie_between_the_generated_answer_and_another_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    script_problem(fake_llm, solutions(8, "8"))
    run = bench.start("cot_self_instruct", 1, seed_set=qa_seeds(bench), futility_limit=2)
    assert run.produced == 0 and set(run.filtered) == {"inconsistent_answer"}


def script_general(fake: Any, low: int) -> None:
    """New prompts, four responses each; the judge scores them 5, 4, 4 and `low`."""
    tick = counter()
    fake.script(
        r"You write new prompts",
        lambda body: f"Plan: a travel task.\n<prompt>Plan a trip: {words(tick(), 8)}.</prompt>",
    )
    fake.script(r"^Plan a trip", lambda body: [f"Trip plan, quality {s}." for s in (5, 4, 4, low)])

    def judge(body: dict[str, Any]) -> str:
        response = body["messages"][-1]["content"].split("<response>")[-1]
        quality = re.search(r"quality (\d)", response)
        return f"Reasons.\nScore: {quality.group(1) if quality else 'none'}"

    fake.script(r"additive 5-point", judge)


def general_run(bench: Any, pool: dict[str, float], **params: Any) -> Run:
    """A run whose earlier slices already judged three prompts (their lowest scores in pool)."""
    return Run.objects.create(
        project=bench.project,
        recipe_id="cot_self_instruct",
        recipe_version=get_recipe("cot_self_instruct").version,
        seed_set=bench.seed_set,
        endpoint=bench.endpoint,
        target_count=1,
        futility_limit=2,
        params={"task_type": "general", "k": 4, **params},
        state={STATE_KEY: {"rip": pool}},
    )


def drive_to_end(run: Run) -> Run:
    while drive(run.pk).again:
        pass
    run.refresh_from_db()
    return run


@pytest.mark.django_db(transaction=True)
def test_rip_drops_a_prompt_whose_lowest_score_is_in_the_bottom_half_of_the_pool(
    bench: Any, fake_llm: Any
) -> None:
    script_general(fake_llm, low=2)
    run = drive_to_end(general_run(bench, {"old:0": 4.0, "old:1": 4.0, "old:2": 5.0}))
    assert run.produced == 0 and set(run.filtered) == {"rip_low_min_score"}
    item = RunItem.objects.filter(run=run, reason="rip_low_min_score").first()
    assert item is not None and "lowest 2.0 < p50 4.000" in item.detail
    # Each prompt's lowest score joined the run's pool, kept across slices.
    pool = run.state[STATE_KEY]["rip"]
    judged = set(RunItem.objects.filter(run=run).values_list("work_key", flat=True))
    assert len(judged) >= 2
    assert pool == {"old:0": 4.0, "old:1": 4.0, "old:2": 5.0} | dict.fromkeys(judged, 2.0)


@pytest.mark.django_db(transaction=True)
def test_rip_keeps_a_prompt_whose_lowest_score_clears_the_median_with_its_best_response(
    bench: Any, fake_llm: Any
) -> None:
    script_general(fake_llm, low=4)
    run = drive_to_end(general_run(bench, {"old:0": 3.0, "old:1": 4.0, "old:2": 5.0}))
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.kind == "sft" and sample.messages[1]["content"] == "Trip plan, quality 5."
    assert sample.extra["scores"] == [5.0, 4.0, 4.0, 4.0] and sample.extra["min_score"] == 4.0
    assert sample.extra["rip_cut"] == 4.0 and sample.judge_score == 5.0


@pytest.mark.django_db(transaction=True)
def test_general_prompts_can_give_best_against_worst_pairs(bench: Any, fake_llm: Any) -> None:
    script_general(fake_llm, low=3)
    run = drive_to_end(general_run(bench, {}, general_output="pair"))
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.kind == "preference"
    assert sample.chosen[0]["content"] == "Trip plan, quality 5."
    assert sample.rejected[0]["content"] == "Trip plan, quality 3."
    assert sample.judgements.count() == 2


def test_the_new_question_and_its_boxed_answer_are_read_from_their_tags() -> None:
    text = "Thinking...\n<question>\nHow many?\n</question>\n<answer>\\boxed{\\frac{1}{2}}</answer>"
    assert new_question(text) == ("Thinking...", "How many?", "\\frac{1}{2}")
    assert new_question("plan <question>How many?<answer>12</answer>")[1:] == ("How many?", "12")
    assert new_question("<question>How many?</question>")[2] is None
    assert new_question("no tags at all")[1] == ""
    assert tagged("I will use <prompt> tags.\n<prompt>Write a haiku.</prompt>", "prompt") == (
        "I will use <prompt> tags.",
        "Write a haiku.",
    )


def test_a_question_labelled_in_prose_instead_of_tags_is_read_too() -> None:
    text = "The seeds are sums.\n**New question:** What is 4 + 5?\n**Answer:** \\boxed{9}"
    assert new_question(text) == ("The seeds are sums.", "What is 4 + 5?", "9")
    assert new_question("Plan.\nProblem: What is 4+5?\n\\boxed{9}")[1:] == ("What is 4+5?", "9")
    assert new_question("Plan.\nQuestion: What is 4 + 5?\nFinal answer: 9")[1:] == (
        "What is 4 + 5?",
        "9",
    )
    assert tagged("Plan: travel.\nNew prompt: Plan a trip to Rome.", "prompt")[1] == (
        "Plan a trip to Rome."
    )


@pytest.mark.django_db(transaction=True)
def test_a_prompt_that_hands_back_the_templates_placeholder_is_a_copy(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"You write new prompts", "<prompt>\nthe new prompt\n</prompt>")
    run = bench.start("cot_self_instruct", 1, params={"task_type": "general"}, futility_limit=2)
    assert run.produced == 0 and set(run.filtered) == {"copies_seed_or_prompt"}


def test_the_pool_holds_one_score_per_item_and_is_replaced_not_changed() -> None:
    state: dict[str, Any] = {}
    assert admit(state, "csi:0", 3.0) == [3.0]
    before = state[STATE_KEY]
    assert sorted(admit(state, "csi:1", 5.0)) == [3.0, 5.0]
    assert before == {"rip": {"csi:0": 3.0}}  # a flush writing `before` is not disturbed
    assert sorted(admit(state, "csi:0", 3.0)) == [3.0, 5.0]  # a resumed item: still one entry
    for i in range(POOL_LIMIT + 5):
        admit(state, f"x:{i}", 1.0)
    assert len(state[STATE_KEY]["rip"]) == POOL_LIMIT and "csi:0" not in state[STATE_KEY]["rip"]


def test_the_percentile_interpolates_and_50_is_the_median() -> None:
    assert percentile([2.0, 3.0, 4.0, 5.0], 50) == 3.5
    assert percentile([4.0], 50) == 4.0
    assert percentile([1.0, 2.0, 3.0], 0) == 1.0 and percentile([1.0, 2.0, 3.0], 100) == 3.0
