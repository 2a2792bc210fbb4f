"""SuperGen (#7): per label, n continuations of a label prompt; the top k by mean logprob."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.supergen import continuation
from generation.runs.models import RunStatus
from tests.generation.cases import counter

SENTIMENT = [
    {"text": "The soup arrived hot and the staff remembered my name.", "label": "positive"},
    {"text": "Battery died after two days and support never answered.", "label": "negative"},
    {"text": "A gentle, funny film with a soundtrack I keep humming.", "label": "positive"},
    {"text": "The plot drags for an hour and the ending makes no sense.", "label": "negative"},
]
POSITIVE, NEGATIVE = r"Text: Reviews Rating: 5\.0", r"Text: Reviews Rating: 1\.0"
JUDGE = r"was written to belong to the category"


def labelled(bench: Any, rows: list[dict[str, str]]) -> Any:
    data = "\n".join(json.dumps(r) for r in rows).encode()
    return import_seed_set(bench.owner, bench.project, name="Labelled", data=data)


def permuted(i: int) -> float:
    """Choice i's logprob: a permutation of 0, -0.1, …, -4.9, so the best are not the first."""
    return -((i * 37) % 50) / 10


def batches(label: str, logprob: Any = permuted, short: int = 0) -> Any:
    """A scripted reply: n distinct texts per request (numbered), each with its logprob."""
    tick = counter()

    def reply(body: dict[str, Any]) -> list[dict[str, Any]]:
        batch = tick()
        return [
            {
                "content": "Bad." if i < short else f"Choice {i} of batch {batch}: {label} visit.",
                "logprob": logprob(i),
            }
            for i in range(body.get("n") or 1)
        ]

    return reply


def choice(sample: Sample) -> int:
    return int(
        re.search(r"Choice (\d+)", sample.extra.get("text_b") or sample.extra["text"]).group(1)
    )


def choice_in(body: dict[str, Any]) -> int:
    return int(re.search(r"Choice (\d+)", body["messages"][-1]["content"]).group(1))


@pytest.mark.django_db(transaction=True)
def test_2_labels_x_50_generations_keep_exactly_the_top_k_per_label_by_mean_logprob(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(POSITIVE, batches("lovely"))
    fake_llm.script(NEGATIVE, batches("awful"))
    seeds = labelled(bench, SENTIMENT)
    run = bench.start("supergen", 20, seed_set=seeds, params={"generations": 50, "keep": 10})
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = Sample.objects.filter(run=run)
    assert Counter(rows.values_list("label", flat=True)) == {"positive": 10, "negative": 10}
    best = {i for i in range(50) if (i * 37) % 50 < 10}
    for label in ("positive", "negative"):
        kept = rows.filter(label=label)
        assert {choice(s) for s in kept} == best
        assert sorted(s.judge_score for s in kept) == pytest.approx(
            [-i / 10 for i in range(9, -1, -1)]
        )
        assert len({re.search(r"batch (\d+)", s.extra["text"]).group(1) for s in kept}) == 1
    sample = rows.first()
    assert sample.kind == "classification"
    assert sample.extra["labels"] == ["positive", "negative"]
    assert sample.extra["score"] == sample.judge_score
    assert sample.extra["metadata"]["score_source"] == "logprobs"
    verdict = Judgement.objects.get(sample=sample)
    assert (verdict.rubric_id, verdict.score) == ("mean_logprob", pytest.approx(sample.judge_score))
    asked = next(r for r in fake_llm.requests if "Rating: 5.0" in r["messages"][-1]["content"])
    assert (asked["n"], asked["logprobs"], asked["temperature"]) == (50, True, 0.2)
    assert (asked["presence_penalty"], asked["max_tokens"]) == (0.5, 64)


@pytest.mark.django_db(transaction=True)
def test_without_logprobs_a_judge_ranks_the_texts_and_the_run_counts_it(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.disable("logprobs")
    fake_llm.script(JUDGE, lambda body: f"Fits. Score: {choice_in(body) % 5 + 1}")
    fake_llm.script(POSITIVE, batches("lovely"))
    fake_llm.script(NEGATIVE, batches("awful"))
    run = bench.start(
        "supergen", 4, seed_set=labelled(bench, SENTIMENT), params={"generations": 8, "keep": 2}
    )
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = Sample.objects.filter(run=run)
    for label in ("positive", "negative"):
        kept = rows.filter(label=label).order_by("judge_score")
        assert [(choice(s), s.judge_score) for s in kept] == [(3, 4.0), (4, 5.0)]
    assert (
        "no_logprobs_judged" not in run.filtered
        and run.state["kit"]["notes"]["no_logprobs_judged"] >= 2
    )
    assert set(Judgement.objects.filter(sample__run=run).values_list("rubric_id", flat=True)) == {
        "label_fit"
    }


@pytest.mark.django_db(transaction=True)
def test_without_logprobs_and_keep_the_texts_stay_in_order_unscored_and_counted(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.disable("logprobs")
    fake_llm.script(POSITIVE, batches("lovely"))
    fake_llm.script(NEGATIVE, batches("awful"))
    params = {"generations": 6, "keep": 3, "no_logprobs": "keep"}
    run = bench.start("supergen", 6, seed_set=labelled(bench, SENTIMENT), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = Sample.objects.filter(run=run)
    assert sorted(choice(s) for s in rows.filter(label="negative")) == [0, 1, 2]
    assert {s.judge_score for s in rows} == {None}
    assert (
        "unranked_no_logprobs" not in run.filtered
        and run.state["kit"]["notes"]["unranked_no_logprobs"] >= 2
    )
    assert fake_llm.count(JUDGE) == 0


@pytest.mark.django_db(transaction=True)
def test_every_label_keeps_as_many_rows_as_the_scarcest_label(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(POSITIVE, batches("lovely"))
    fake_llm.script(NEGATIVE, batches("awful", short=5))  # 3 of 8 texts are long enough
    params = {"generations": 8, "keep": 5}
    run = bench.start("supergen", 6, seed_set=labelled(bench, SENTIMENT), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = Sample.objects.filter(run=run)
    assert Counter(rows.values_list("label", flat=True)) == {"positive": 3, "negative": 3}
    assert run.filtered["too_short"] >= 5
    assert run.filtered["cut_for_balance"] >= 2


@pytest.mark.django_db(transaction=True)
def test_no_text_is_kept_twice_in_a_run(bench: Any, fake_llm: Any) -> None:
    same = [f"The same lovely text number {i}." for i in range(4)]
    fake_llm.script(POSITIVE, lambda body: same)
    fake_llm.script(NEGATIVE, lambda body: [t.replace("lovely", "awful") for t in same])
    params = {"generations": 4, "keep": 2}
    seeds = labelled(bench, SENTIMENT)
    run = bench.start("supergen", 10, seed_set=seeds, params=params, futility_limit=3)
    texts = list(Sample.objects.filter(run=run).values_list("extra__text", flat=True))
    # Two items keep 2 + 2 texts per label; then every text has been made before.
    assert run.status == RunStatus.FAILED
    assert len(texts) == run.produced == 8
    assert len(texts) == len(set(texts))
    assert run.filtered["duplicate"] >= 2
    assert run.filtered["no_new_text"] >= 1


@pytest.mark.django_db(transaction=True)
def test_pair_tasks_continue_a_first_sentence_and_unknown_labels_get_a_generic_prompt(
    bench: Any, fake_llm: Any
) -> None:
    first = "A man plays the guitar on a small stage."
    rows = [
        {"text": first, "text_b": "A person makes music.", "label": "entailment"},
        {"text": first, "text_b": "The man is asleep at home.", "label": "contradiction"},
        {"text": first, "text_b": "The tide came in.", "label": "unrelated"},
    ]
    fake_llm.script(r"In other words,", batches("entailed"))
    fake_llm.script(r"However, the truth is:", batches("contradicted"))
    fake_llm.script(r'label "unrelated"', batches("unrelated"))
    run = bench.start(
        "supergen", 3, seed_set=labelled(bench, rows), params={"generations": 4, "keep": 1}
    )
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = Sample.objects.filter(run=run)
    assert sorted(samples.values_list("label", flat=True)) == [
        "contradiction",
        "entailment",
        "unrelated",
    ]
    for s in samples:
        assert s.extra["text"] == first and "Choice" in s.extra["text_b"]
    prompts = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert any(f"Text: There is a rumor that {first} However, the truth is:" in p for p in prompts)
    assert any(f"Text: {first} In other words," in p for p in prompts)
    assert any(
        f'Text: {first} A text that a careful reader would label "unrelated":' in p for p in prompts
    )


@pytest.mark.django_db(transaction=True)
def test_an_opening_is_drawn_per_item_and_starts_every_text(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r"Rating: 5\.0 The film", batches("lovely"))
    fake_llm.script(
        r"Rating: 1\.0 The film", lambda body: ["The film was a chore to sit through."] * 2
    )
    params = {"generations": 2, "keep": 1, "openings": ["The film"]}
    run = bench.start("supergen", 2, seed_set=labelled(bench, SENTIMENT), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    texts = dict(Sample.objects.filter(run=run).values_list("label", "extra__text"))
    assert texts["positive"].startswith("The film Choice ")  # continued after the opening
    assert texts["negative"] == "The film was a chore to sit through."  # repeated it


def test_the_continuation_loses_an_echoed_prompt_and_wrapping_quotes() -> None:
    assert continuation(
        'Reviews Rating: 5.0 "Great  food,\nkind staff."', "Reviews Rating: 5.0"
    ) == ("Great food, kind staff.")
    assert continuation("  “Lovely.”  ", "Rating: 5.0") == "Lovely."
    assert continuation("Rating: 5.0 Lovely staff.", "Reviews Rating: 5.0") == "Lovely staff."
    assert continuation("The food was great.", "Reviews Rating: 5.0") == "The food was great."
