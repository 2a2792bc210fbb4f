"""DataGen (#28): attribute-guided items, near copies removed, math labels and facts checked."""

from __future__ import annotations

import json
import re
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.seeds.services import import_seed_set
from generation.recipes.datagen_arith import evaluate, expression_in
from generation.recipes.datagen_items import read_attributes, read_item
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.cases import counter, words

PROBLEMS = [
    "A baker fills {a} trays with {b} muffins each. How many muffins does she bake?",
    "A bus carries {a} passengers on each of {b} trips. How many passengers ride in total?",
    "Sam reads {a} pages a day for {b} days. How many pages does he read?",
    "A farmer plants {a} rows of {b} cabbages. How many cabbages are planted?",
    "A box holds {a} crayons. How many crayons are in {b} boxes?",
    "Each ticket to the zoo costs {a} dollars. What do {b} tickets cost?",
    "A runner jogs {a} kilometres every morning for {b} mornings. How far does she run?",
    "A classroom has {a} desks in each of {b} lines. How many desks are there?",
    "A printer prints {a} posters a minute. How many posters after {b} minutes?",
    "There are {a} apples in every basket and {b} baskets on the cart. How many apples?",
    "A spider has {a} legs. How many legs do {b} spiders have together?",
    "A car uses {a} litres of fuel per hour. How much fuel for a {b} hour drive?",
    "Mia saves {a} coins each week. How many coins has she saved after {b} weeks?",
    "A garden bed is {a} metres long and {b} metres wide. What is its area?",
    "A choir has {a} singers in each of {b} sections. How many singers sing?",
    "One pizza is cut into {a} slices. How many slices are there in {b} pizzas?",
    "A factory packs {a} bottles per crate and fills {b} crates. How many bottles?",
    "A library shelf holds {a} books; the room has {b} shelves. How many books fit?",
    "Each hen lays {a} eggs a week. How many eggs do {b} hens lay in a week?",
    "A train has {a} carriages with {b} seats each. How many seats are on the train?",
]
# The muffin problem comes twice, the second time worded a little differently (cosine 0.99;
# distinct problems stay below 0.6): 21 items for 20 samples.
NEAR_COPY = PROBLEMS[0].replace("does she bake?", "does she bake in all?")
ITEMS = [*PROBLEMS[:10], NEAR_COPY, *PROBLEMS[10:]]
WRONG = 5  # the zoo tickets: the generator states one dollar too much
MIX = "difficulty: easy=3, hard=1; topic: shopping, travel"
SEEDS = [
    {"question": "Tom has 3 bags of 6 marbles. How many marbles?", "answer": "18"},
    {"question": "A shelf has 4 rows of 5 jars. How many jars?", "answer": "20",
     "rationale": "4 x 5 = 20."},
]  # fmt: skip


def numbers(n: int) -> tuple[int, int]:
    """The two numbers of item n (the near copy has those of the problem it copies)."""
    n = 0 if n == 10 else n
    return 3 + n, 4 + n % 5


def problem(n: int) -> str:
    a, b = numbers(n)
    if n >= len(ITEMS):  # further items, if the scheduler starts any: distinct ones
        return f"How many {words(n, 3)} are in {a} groups of {b}?"
    return ITEMS[n].format(a=a, b=b)


def script(fake: Any, wrong: set[int]) -> None:
    tick = counter()

    def generate(body: dict[str, Any]) -> str:
        n = tick() - 1
        a, b = numbers(n)
        stated = a * b + (1 if n in wrong else 0)
        return f"Question: {problem(n)}\nSolution: {a} x {b} = {stated}\nAnswer: {stated}"

    def calculation(body: dict[str, Any]) -> str:
        question = body["messages"][-1]["content"].split("Problem:")[1]
        a, b = re.findall(r"\d+", question)[:2]
        return f"Expression: {a} * {b}"

    fake.script(r"^You are writing one new item", generate)
    fake.script(r"^Write the calculation", calculation)
    fake.script(r"^Review one item", "Correct and clear. Score: 4")
    fake.script(r"^Check whether a dataset item", "All met. Score: 1")


def start(
    bench: Any,
    target: int,
    seeds: list[dict[str, Any]] = SEEDS,
    futility_limit: int | None = None,
    **params: Any,
) -> Run:
    data = "\n".join(json.dumps(s) for s in seeds).encode()
    name = f"Math {bench.project.seed_sets.count()}"
    seed_set = import_seed_set(bench.owner, bench.project, name=name, data=data)
    params = {"output": "qa", "description": "Grade-school math word problems.", **params}
    return bench.start(
        "datagen", target, seed_set=seed_set, params=params, futility_limit=futility_limit
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_math_problems_a_wrong_label_is_fixed_a_near_copy_removed_and_the_mix_holds(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, {WRONG})
    run = start(bench, 20, attributes=MIX, constraints="Use whole numbers only")
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(run.samples.all())
    assert len(samples) == 20
    # The arithmetic check found the zoo tickets' label wrong, and fixed it.
    a, b = numbers(WRONG)
    zoo = next(s for s in samples if "zoo" in s.messages[0]["content"])
    check = zoo.extra["label_check"]
    assert check["status"] == "fixed" and check["stated"] == str(a * b + 1)
    assert check["computed"] == str(a * b) == zoo.extra["gold"]
    assert zoo.messages[-1]["content"].endswith(f"The answer is: {a * b}")
    assert check["original_solution"] == f"{a} x {b} = {a * b + 1}"
    others = [s for s in samples if s is not zoo]
    assert {s.extra["label_check"]["status"] for s in others} == {"verified"}
    # Two near-identical muffin problems: one of them is removed.
    dropped = RunItem.objects.filter(run=run, reason="near_duplicate")
    assert dropped.count() == 1 and "muffins" in dropped.get().raw_output
    assert sum("muffins" in s.messages[0]["content"] for s in samples) == 1
    assert all(s.extra["dedup"]["method"] == "embedding" for s in samples)
    # The attribute mix: 3 easy for every hard one, within an item or two of 15 / 5.
    difficulty = Counter(s.extra["metadata"]["attributes"]["difficulty"] for s in samples)
    assert abs(difficulty["easy"] - 15) <= 2 and difficulty["easy"] + difficulty["hard"] == 20
    assert "difficulty=hard" in {t for s in samples for t in s.extra["tags"]}
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert any("- difficulty: hard\n- topic:" in t for t in asked)
    assert all(s.extra["gold"] for s in samples) and zoo.judge_score == 4.0


@pytest.mark.django_db(transaction=True)
def test_classification_without_two_labels_is_refused_before_the_run_starts(bench: Any) -> None:
    with pytest.raises(ServiceError, match="two or more labels"):
        bench.start("datagen", 2, params={"output": "classification"})
    assert not Run.objects.filter(recipe_id="datagen").exists()
    rows = [{"text": "Great soup.", "label": "positive"}, {"text": "Cold.", "label": "negative"}]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    seeds = import_seed_set(bench.owner, bench.project, name="Labelled", data=data)
    bench.start("datagen", 1, seed_set=seeds, params={"output": "classification"})
    assert Run.objects.filter(recipe_id="datagen", seed_set=seeds).exists()  # labels from seeds


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["flag", "drop"])
def test_a_wrong_label_can_be_flagged_or_dropped_instead(
    bench: Any, fake_llm: Any, mode: str
) -> None:
    script(fake_llm, set(range(100)))  # every label one too high
    run = start(bench, 1, attributes="difficulty: easy", math_check=mode, dedup="off",
                futility_limit=3)  # fmt: skip
    if mode == "drop":
        assert run.status == RunStatus.FAILED and run.produced == 0
        assert set(run.filtered) == {"wrong_label"}
    else:
        sample = run.samples.get()
        check = sample.extra["label_check"]
        assert check["status"] == "wrong" and sample.extra["gold"] == check["stated"]
        assert int(check["stated"]) == int(check["computed"]) + 1


DOCS = [
    {"title": "Tides", "text": "Tides are caused mainly by the gravity of the Moon.",
     "source": "demo:tides"},
    {"instruction": "Explain what causes the seasons.", "output": "The tilt of the Earth."},
]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_facts_are_checked_against_retrieved_passages_and_a_contradicted_item_drops(
    bench: Any, fake_llm: Any
) -> None:
    tick = counter()
    claims = ["Tides are caused by the wind.", "Tides come from the pull of the Moon."]
    fake_llm.script(
        r"^You are writing one new item",
        lambda body: f"Instruction: What causes tides?\nResponse: {claims[(tick() - 1) % 2]}",
    )
    fake_llm.script(r"the wind", "CONTRADICTED: the passage names the Moon.")
    fake_llm.script(r"^Check a dataset item", "SUPPORTED by the passage.")
    fake_llm.script(r"^Review one item", "Score: 5")
    run = start(bench, 1, seeds=DOCS, output="sft", attributes="tone: plain", dedup="off")
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert RunItem.objects.filter(run=run, reason="contradicted_by_documents").exists()
    assert "Moon" in run.samples.get().messages[-1]["content"]
    sample = run.samples.get()
    retrieved = sample.extra["retrieval"]
    assert retrieved["verdict"] == "supported"
    (cited,) = retrieved["passages"]
    assert cited["source"] == "demo:tides" and cited["id"].startswith("doc:")
    asked = next(r for r in fake_llm.requests if "Check a dataset item" in str(r["messages"]))
    assert "gravity of the Moon" in asked["messages"][-1]["content"]


@pytest.mark.django_db(transaction=True)
def test_without_a_mix_the_attributes_are_generated_once_and_kept_across_slices(
    bench: Any, fake_llm: Any, settings: Any
) -> None:
    settings.SEEDBED_RUN_SLICE_SECONDS = 0.5
    settings.SEEDBED_RUN_GRACE_SECONDS = 0.1
    fake_llm.latency = 0.25
    tick = counter()
    fake_llm.script(
        r"^You are planning a varied dataset",
        "Here you go:\n1. **Topic**: cooking, travel, science\n2. Tone: formal / casual\nlength",
    )
    fake_llm.script(
        r"^You are writing one new item",
        lambda body: f"Instruction: Describe {words(tick(), 6)}.\nResponse: {words(tick())}.",
    )
    fake_llm.script(r"^Review one item", "Score: 4")
    run = bench.start("datagen", 6, params={"dedup": "lexical"})
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.slices >= 2
    assert fake_llm.count(r"^You are planning a varied dataset") == 1
    names = [a["name"] for a in run.state["datagen"]["attributes"]]
    assert names == ["topic", "tone"]
    assert {tuple(sorted(s.extra["metadata"]["attributes"])) for s in run.samples.all()} == {
        ("tone", "topic")
    }


@pytest.mark.django_db(transaction=True)
def test_an_attribute_list_that_does_not_read_ends_the_run_with_the_reason(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"^You are planning a varied dataset", "I cannot help with that.")
    run = bench.start("datagen", 2, futility_limit=5)
    assert run.status == RunStatus.FAILED
    assert "no_attributes" in run.last_error


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("12 x 4", Fraction(48)),
        ("(3 + 5) * 2 = 16", Fraction(16)),
        ("7 ÷ 2", Fraction(7, 2)),
        ("1,000 + 5", Fraction(1005)),
        ("2^3 - 0.5", Fraction(15, 2)),
        ("-(4 - 10) % 4", Fraction(2)),
    ],
)
def test_the_arithmetic_checker_evaluates_exactly(expression: str, value: Fraction) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "x * 2", "1 / 0", "9 ** 99", "2 ** 0.5", "len('ab')", ""],
)
def test_the_arithmetic_checker_evaluates_nothing_else(expression: str) -> None:
    assert evaluate(expression) is None


def test_the_expression_is_read_from_a_chatty_reply() -> None:
    assert expression_in("Sure!\nExpression: `4 * (3 + 2)`\nThat is it.") == "4 * (3 + 2)"
    assert expression_in("The answer is twenty.") is None


def test_items_and_attribute_lists_are_read_leniently() -> None:
    item = read_item("**Question:** How many?\n**Solution**: 2 + 2 = 4\n1. Answer: 4", "qa")
    assert item == {"question": "How many?", "solution": "2 + 2 = 4", "answer": "4"}
    assert read_item("Question: Only a question?", "qa") is None
    assert read_item("Question: Q?\nSolution: so the answer is 7.", "qa")["answer"] == "7"
    found = read_attributes("- Topic: a, b\nDifficulty: easy\n* Reading level: A1, B2, B2")
    assert [(a.name, a.values) for a in found] == [
        ("topic", ("a", "b")),
        ("reading_level", ("A1", "B2")),
    ]
