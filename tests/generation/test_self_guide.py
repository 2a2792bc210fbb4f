"""SELF-GUIDE (#25): new inputs from a few examples, outputs by the same model, three filters."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.self_guide import NOISE, OPENERS, label_in, noisy, reply_text
from generation.runs.models import Run, RunStatus
from tests.generation.cases import counter, words

EXAMPLES = [
    {"text": "The soup arrived hot and the staff remembered my name.", "label": "positive"},
    {"text": "Battery died after two days and support never answered.", "label": "negative"},
    {"text": "A gentle, funny film with a soundtrack I keep humming.", "label": "positive"},
]
INPUTS, OUTPUTS = r"Write one new input for the same task", r"Output:\s*$"
NUMBER = re.compile(r"Review (\d+)")


def sentiment(bench: Any) -> Any:
    data = "\n".join(json.dumps(e) for e in EXAMPLES).encode()
    return import_seed_set(bench.owner, bench.project, name="Sentiment", data=data)


def new_inputs(fake: Any) -> None:
    tick = counter()
    fake.script(
        INPUTS,
        lambda body: [
            f"Input: Review {tick()}: {words(tick(), 7)}." for _ in range(body.get("n") or 1)
        ],
    )


def answer_by_number(body: dict[str, Any]) -> str:
    """Every fifth input gets a meta-comment, the next one a long answer; the rest a label."""
    number = int(NUMBER.findall(body["messages"][-1]["content"])[-1])
    return {
        0: "positive (Note: the review sounds upbeat.)",
        1: "Positive, because the reviewer clearly enjoyed it.",
        2: "Negative.",
    }.get(number % 5, "positive")


@pytest.mark.django_db(transaction=True)
def test_3_sentiment_examples_give_50_rows_in_the_label_set_after_noise_and_length_filters(
    bench: Any, fake_llm: Any
) -> None:
    new_inputs(fake_llm)
    fake_llm.script(OUTPUTS, answer_by_number)
    run = bench.start("self_guide", 50, seed_set=sentiment(bench))
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = list(Sample.objects.filter(run=run))
    assert len(rows) == 50
    for s in rows:
        number = int(NUMBER.search(s.extra["text"]).group(1))
        assert number % 5 not in (0, 1)  # the noisy and the long answers are gone
        assert s.label == ("negative" if number % 5 == 2 else "positive")
        assert s.kind == "classification" and s.extra["labels"] == ["positive", "negative"]
        assert not s.extra["text"].startswith("Input:")
    assert run.filtered["noise"] >= 1 and run.filtered["too_long"] >= 1
    assert Counter(s.label for s in rows)["negative"] > 0
    asked = next(r for r in fake_llm.requests if re.search(INPUTS, r["messages"][-1]["content"]))
    assert (asked["n"], asked["temperature"]) == (5, 1.0)
    shown = asked["messages"][-1]["content"]
    assert "Classify the text as one of: positive, negative." in shown
    assert sum(e["text"] in shown for e in EXAMPLES) == 3
    answered = next(
        r for r in fake_llm.requests if re.search(OUTPUTS, r["messages"][-1]["content"])
    )
    assert answered["temperature"] == 0.3


@pytest.mark.django_db(transaction=True)
def test_noisy_inputs_and_copies_of_seed_or_earlier_inputs_are_dropped(
    bench: Any, fake_llm: Any
) -> None:
    tick = counter()
    fake_llm.script(
        INPUTS,
        lambda body: [
            "Assistant: Here is a new review of a cafe.",
            EXAMPLES[0]["text"],
            "Review 7: the same input every time, word for word.",
            f"Review {tick()}: {words(tick(), 7)}.",
        ],
    )
    fake_llm.script(OUTPUTS, "negative")
    run = bench.start("self_guide", 3, seed_set=sentiment(bench), params={"inputs_per_item": 4})
    assert run.status == RunStatus.COMPLETED, run.last_error
    texts = list(Sample.objects.filter(run=run).values_list("extra__text", flat=True))
    assert texts.count("Review 7: the same input every time, word for word.") == 1
    assert EXAMPLES[0]["text"] not in texts
    assert run.filtered["noisy_input"] >= 1 and run.filtered["duplicate_input"] >= 2


@pytest.mark.django_db(transaction=True)
def test_instruction_seeds_give_sft_pairs_and_long_outputs_drop(bench: Any, fake_llm: Any) -> None:
    new_inputs(fake_llm)

    def answer(body: dict[str, Any]) -> str:
        number = int(NUMBER.findall(body["messages"][-1]["content"])[-1])
        return " ".join(["long"] * 60) if number % 4 == 1 else f"A short answer for {number}."

    fake_llm.script(OUTPUTS, answer)
    run = bench.start("self_guide", 4, params={"examples": 3})  # the bench's instruction seeds
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = list(Sample.objects.filter(run=run))
    assert len(rows) == 4 and {s.kind for s in rows} == {"sft"}
    for s in rows:
        prompt, reply = s.messages[0]["content"], s.messages[-1]["content"]
        assert prompt.startswith("Write the output for the input, as in the examples.\n\n")
        assert reply.startswith("A short answer for")
    assert run.filtered["too_long"] >= 1


@pytest.mark.django_db(transaction=True)
def test_classification_rows_need_labelled_seeds_and_are_refused_before_the_run_starts(
    bench: Any, fake_llm: Any
) -> None:
    with pytest.raises(ServiceError, match="labelled seeds only"):
        bench.start("self_guide", 2, params={"output_type": "classification"})
    assert not Run.objects.filter(recipe_id="self_guide").exists()


def test_the_filters_read_loosely_but_keep_to_the_label_set() -> None:
    assert label_in(" Positive. ", ["positive", "negative"]) == "positive"
    assert label_in('"NEGATIVE"', ["positive", "negative"]) == "negative"
    assert label_in("positive (Note: upbeat)", ["positive", "negative"]) is None
    assert label_in("neutral", ["positive", "negative"]) is None
    assert noisy("positive (Note: upbeat)", list(NOISE)) == "(note"
    assert noisy("Assistant: positive", list(NOISE)) == "assistant:"
    assert noisy("A calm, kind review.", list(NOISE)) is None
    assert noisy("Here is a new review:\nGreat cafe.", list(NOISE), list(OPENERS)) == "here is"
    assert noisy("The food here is great.", list(NOISE), list(OPENERS)) is None
    assert reply_text('Output: "positive"') == "positive"
    assert reply_text("Input: A new review.") == "A new review."
