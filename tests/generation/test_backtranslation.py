"""Instruction Backtranslation (B3): documents become answers, the model writes their
instructions (self-augmentation) and rates the pairs (self-curation)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.backtranslation_text import (
    copied_run,
    demo_pair,
    instruction_of,
    rating,
    segments,
)
from generation.recipes.base import SeedRow
from generation.runs.models import RunStatus

BEES = (
    "Bees carry pollen from flower to flower while they feed on nectar. Many crops, from "
    "almonds to apples, set far more fruit when bees visit them, so farmers often rent hives "
    "during the bloom. A healthy hive needs forage close by, clean water and shelter from "
    "pesticides sprayed on open flowers.\n"
)
TIDES = (
    "Tides rise and fall twice a day because the Moon's gravity pulls the oceans into two "
    "bulges on opposite sides of the Earth. As the planet turns, each coast passes through "
    "both bulges. When the Sun and the Moon line up, their pulls add and the spring tides "
    "are the largest of the month."
)
EXAMPLES = [
    {"instruction": "Explain what a prime number is to a child.", "input": "",
     "output": "A prime number is a number you can only split evenly by 1 and itself."},
    {"instruction": "Classify the sentiment.", "input": "Great food!", "output": "positive",
     "is_classification": True},
]  # fmt: skip
CURATE = r"You are checking training data"
WRITE = r"work backwards"


def seed_set(bench: Any, *records: dict[str, Any]) -> Any:
    data = "\n".join(json.dumps(r) for r in records).encode()
    return import_seed_set(bench.owner, bench.project, name="Docs", data=data)


def doc(title: str, text: str) -> dict[str, Any]:
    return {"title": title, "text": text, "source": f"{title.lower()}.md"}


def answered(body: dict[str, Any]) -> str:
    return body["messages"][-1]["content"].split("<answer>")[1]


@pytest.mark.django_db(transaction=True)
def test_a_document_becomes_a_row_answering_the_instruction_the_model_predicted_for_it(
    bench: Any, fake_llm: Any
) -> None:
    ratings = ["Score: 5\nFocused.", "Score: 5\nExpert.", "Score: 4\nLong."]
    fake_llm.script(CURATE, lambda body: ratings)
    fake_llm.script(WRITE, "<request>Why do farmers rent beehives during the bloom?</request>")
    seeds = seed_set(bench, doc("Bees", BEES), *EXAMPLES)
    run = bench.start("backtranslation", 1, seed_set=seeds)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.kind == "sft"
    assert sample.messages == [
        {"role": "user", "content": "Why do farmers rent beehives during the bloom?"},
        {"role": "assistant", "content": BEES.strip()},
    ]
    assert sample.judge_score == pytest.approx(4.667, abs=0.001)
    assert sample.extra["scores"] == [5.0, 5.0, 4.0]
    assert sample.judge_confidence == pytest.approx(0.8114, abs=0.001)
    assert sample.extra["metadata"]["document_title"] == "Bees"
    assert sample.extra["metadata"]["segment"] == "1 of 1"
    assert Judgement.objects.get(sample=sample).score == pytest.approx(4.667, abs=0.001)
    # The backward model saw the text and one seed example (the classification seed is no
    # example); the judge was asked three times in one request.
    (write,) = [r for r in fake_llm.requests if re.search(WRITE, r["messages"][-1]["content"])]
    shown = write["messages"][-1]["content"]
    assert BEES.strip() in shown and "<request>Explain what a prime number is" in shown
    assert "Classify the sentiment" not in shown
    assert len(sample.seed_ids) == 2  # the document and the example shown
    (curate,) = [r for r in fake_llm.requests if re.search(CURATE, r["messages"][-1]["content"])]
    assert curate["n"] == 3 and curate["temperature"] == 0.7


@pytest.mark.django_db(transaction=True)
def test_a_pair_rated_below_the_threshold_is_dropped_and_a_lower_threshold_keeps_it(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(CURATE, lambda body: ["Score: 5", "Score: 4", "Score: 4"])  # 4.33: A4, not A5
    fake_llm.script(WRITE, "<request>How do tides work?</request>")
    strict = bench.start("backtranslation", 1, seed_set=seed_set(bench, doc("Tides", TIDES)))
    assert strict.produced == 0 and strict.filtered == {"below_threshold": 1}
    loose = bench.start(
        "backtranslation", 1, seed_set=strict.seed_set, params={"keep_threshold": 4.0}
    )
    assert loose.produced == 1


@pytest.mark.django_db(transaction=True)
def test_empty_copying_and_unrateable_instructions_are_dropped_with_their_reasons(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(CURATE, lambda body: "Lovely." if "Tides" in answered(body) else "Score: 5")

    def write(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"].rsplit("<text>", 1)[1]
        if "Bees carry" in text:
            return "<request>   </request>"
        if "almonds" in text:
            return "<request>Rewrite: many crops, from almonds to apples, set far more fruit"
        return "<request>How do tides work?</request>"

    fake_llm.script(WRITE, write)
    copied = BEES.replace("Bees carry", "Hives carry")
    seeds = seed_set(bench, doc("Bees", BEES), doc("Copy", copied), doc("Tides", TIDES))
    run = bench.start("backtranslation", 3, seed_set=seeds)
    assert run.produced == 0
    assert run.filtered == {"empty_instruction": 1, "copies_document": 1, "unjudgeable": 1}


@pytest.mark.django_db(transaction=True)
def test_a_seed_set_without_documents_is_refused_before_the_run_starts(bench: Any) -> None:
    with pytest.raises(ServiceError, match="needs document seeds"):
        bench.start("backtranslation", 1)  # the bench's seeds are instructions only


@pytest.mark.django_db(transaction=True)
def test_short_segments_are_dropped_and_the_system_tag_is_written_when_asked(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(CURATE, "Score: 5")
    fake_llm.script(WRITE, "<request>How do tides work?</request>")
    seeds = seed_set(bench, doc("Short", "Too short to answer anything."), doc("Tides", TIDES))
    tag = "Answer with knowledge from web search."
    run = bench.start("backtranslation", 2, seed_set=seeds, params={"system_tag": tag})
    assert run.filtered == {"segment_too_short": 1}
    sample = Sample.objects.get(run=run)
    assert sample.messages[0] == {"role": "system", "content": tag}
    assert fake_llm.count(WRITE) == 1  # the short segment cost no call


def test_long_documents_are_cut_at_paragraphs_headings_and_sentences() -> None:
    def seed(text: str) -> SeedRow:
        return SeedRow(1, "document", {"text": text}, text)

    para = " ".join(f"w{i}" for i in range(20))
    text = f"# Intro\n\n{para}.\n\n\n{para}.\n\n## Next\n\n{para}. {para}. {para}.\n\ntail words"
    cut = segments(seed(text), 45, 5)
    assert [s.text for s in cut] == [
        f"# Intro\n\n{para}.\n\n\n{para}.",  # two paragraphs fit in 45 words
        f"## Next\n\n{para}. {para}.",  # a heading starts a segment; long paragraphs by sentence
        f"{para}.\n\ntail words",
    ]
    assert all(s.text in text for s in cut) and [s.count for s in cut] == [3, 3, 3]
    # A last segment under the minimum (here 22 words < 25) joins the one before it.
    joined = segments(seed(text), 45, 25)
    assert [s.text for s in joined][1] == f"## Next\n\n{para}. {para}. {para}.\n\ntail words"
    assert [s.text for s in segments(seed(f"  {para}\n"), 0, 5)] == [para]
    assert segments(seed("   "), 45, 5) == []


def test_the_instruction_is_read_without_tags_labels_prefaces_or_quotes() -> None:
    assert instruction_of("<request>Why is the sky blue?</request>") == "Why is the sky blue?"
    assert instruction_of("Why is the sky blue?") == "Why is the sky blue?"
    assert instruction_of('Sure! Here is the request:\n**Request:** "Why?"') == "Why?"
    assert instruction_of("Question: Why?\n<text>\nthe next example") == "Why?"
    assert instruction_of("<request></request>") == ""


def test_ratings_read_score_lines_and_a_bare_number_on_the_1_to_5_scale() -> None:
    assert rating("Score: 4\nClear.") == 4.0 and rating("5\nbecause") == 5.0
    assert rating("4/5") == 4.0
    assert rating("Score: 0") is None and rating("Score: 7") is None
    assert rating("1. The answer starts well") is None and rating("Lovely.") is None


def test_copies_are_runs_of_words_and_examples_need_a_real_output() -> None:
    body = "one two three four five six seven eight nine ten eleven"
    assert copied_run("Say: one two three four five six seven eight nine ten", body, 10)
    assert not copied_run("one two three four five, then six seven eight nine ten", body, 10)
    hello = "Hello there, friend."
    chat = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": hello}]
    pair = demo_pair(SeedRow(1, "conversation", {"messages": chat}, ""))
    assert pair == ("Hi?", hello)
    short = {"instruction": "Label it.", "instances": [{"input": "", "output": "yes"}]}
    assert demo_pair(SeedRow(2, "instruction", short, "")) is None
