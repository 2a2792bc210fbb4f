"""ZeroGen (#8): per context and label, n continuations of the task template; length, dedup."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from django.test import Client

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.zerogen import task_prompt, text_of
from generation.recipes.zerogen_diversity import run_self_bleu, self_bleu, tokens
from generation.runs.models import Run, RunStatus
from tests.generation.cases import counter, words
from tests.generation.test_runs import api

SEEDS = "\n".join(
    json.dumps({"text": t, "label": label})
    for t, label in [("Loved every minute.", "positive"), ("A dull, endless film.", "negative")]
).encode()
PROMPT = re.compile(r'in (\w+) sentiment for movie "([^"]*)" is: "')


def script(fake: Any, texts: Any = None) -> None:
    """Contexts are numbered titles; a text names the label and context it was asked for."""
    tick = counter()
    fake.script(r"Name one movie", lambda body: f"The {words(tick(), 2)} Affair")

    def reviews(body: dict[str, Any]) -> list[str]:
        label, context = PROMPT.search(body["messages"][-1]["content"]).groups()
        n = body.get("n") or 1
        made = texts(label, context, n) if texts else None
        return made or [
            f'A {label} take on {context}: {words(tick(), 9)}." he said.' for _ in range(n)
        ]

    fake.script(r"Continue the text below", reviews)


def start(bench: Any, target: int, futility_limit: int | None = None, **params: Any) -> Any:
    seeds = import_seed_set(bench.owner, bench.project, name="Sentiment", data=SEEDS)
    params = {"samples": 4, **params}
    return bench.start(
        "zerogen", target, seed_set=seeds, params=params, futility_limit=futility_limit
    )


@pytest.mark.django_db(transaction=True)
def test_5_contexts_x_2_labels_x_4_samples_make_40_rows_labelled_as_prompted(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = start(bench, 40)
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = list(Sample.objects.filter(run=run))
    assert len(rows) == 40
    by_context = Counter(s.extra["context"] for s in rows)
    assert len(by_context) == 5 and set(by_context.values()) == {8}
    for s in rows:
        text = s.extra["text"]
        assert s.kind == "classification"
        assert text.startswith(f"A {s.label} take on {s.extra['context']}:")  # cut at the quote
        assert PROMPT.search(s.extra["metadata"]["task_prompt"]).groups() == (
            s.label,
            s.extra["context"],
        )
        assert len(text.split()) >= 10
        assert s.extra["labels"] == ["positive", "negative"]
    assert Counter(s.label for s in rows) == {"positive": 20, "negative": 20}
    assert len({s.extra["text"] for s in rows}) == 40
    diversity = run_self_bleu(run.pk)
    assert diversity is not None and 0.0 < diversity < 1.0
    assert diversity == pytest.approx(self_bleu([s.extra["text"] for s in rows]))
    assert all(0.0 <= s.extra["metadata"]["batch_self_bleu"] <= 1.0 for s in rows)
    # Self-BLEU reported: the run's API report and its page.
    report = api(bench.owner).get(f"/api/v1/runs/{run.pk}/report").json()
    assert report["self_bleu"] == round(diversity, 4)
    page = Client()
    page.force_login(bench.owner)
    html = page.get(f"/runs/{run.pk}/").content.decode()
    assert "Recipe figures" in html and f"{round(diversity, 4)}" in html
    asked = next(
        r for r in fake_llm.requests if "Continue the text below" in r["messages"][-1]["content"]
    )
    assert (asked["n"], asked["top_p"], asked["temperature"]) == (4, 0.9, 1.0)


@pytest.mark.django_db(transaction=True)
def test_short_texts_and_duplicates_are_removed_and_counted(bench: Any, fake_llm: Any) -> None:
    def texts(label: str, context: str, n: int) -> list[str]:
        long = f"The same {label} words about the film, over and over, every time."
        return [
            long,
            long,
            f'Too short for {label}." ok',
            f'A {label} view of {context}: {words(len(context), 9)}"',
        ]

    script(fake_llm, texts)
    run = start(bench, 6, futility_limit=10)
    rows = list(Sample.objects.filter(run=run))
    assert run.produced == len(rows) > 0
    assert all(len(s.extra["text"].split()) >= 10 for s in rows)
    assert len({s.extra["text"] for s in rows}) == len(rows)
    assert run.filtered["too_short"] >= 2
    assert run.filtered["duplicate"] >= 2  # a repeat in the batch, and in the next item
    # The repeated text is kept once per label in the whole run.
    assert sum("over and over" in s.extra["text"] for s in rows) == 2


@pytest.mark.django_db(transaction=True)
def test_contexts_longer_than_10_words_or_seen_before_drop_the_item(
    bench: Any, fake_llm: Any
) -> None:
    replies = iter(["Up", "Up", " ".join(["word"] * 11)] + [f"Film {i}" for i in range(50)])
    fake_llm.script(r"Name one movie", lambda body: next(replies))
    script(fake_llm)
    run = start(bench, 8, samples=2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.filtered["duplicate_context"] == 1
    assert run.filtered["context_too_long"] == 1
    assert Counter(s.extra["context"] for s in Sample.objects.filter(run=run))["Up"] == 4


@pytest.mark.django_db(transaction=True)
def test_labels_can_be_given_without_a_seed_set(bench: Any, fake_llm: Any) -> None:
    script(fake_llm)
    params = {"labels": ["hopeful", "bitter"], "samples": 2}
    run = bench.start("zerogen", 4, seed_set=None, params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = Sample.objects.filter(run=run)
    assert set(rows.values_list("label", flat=True)) == {"hopeful", "bitter"}
    assert rows.first().extra["labels"] == ["hopeful", "bitter"]


@pytest.mark.django_db(transaction=True)
def test_without_labels_or_a_labelled_seed_set_the_run_is_refused_before_it_starts(
    bench: Any,
) -> None:
    with pytest.raises(ServiceError, match="ZeroGen needs label names"):
        bench.start("zerogen", 4, seed_set=None)
    assert not Run.objects.filter(recipe_id="zerogen").exists()


@pytest.mark.django_db(transaction=True)
def test_with_rank_the_top_k_per_label_by_mean_logprob_are_kept(bench: Any, fake_llm: Any) -> None:
    def texts(label: str, context: str, n: int) -> list[dict[str, Any]]:
        return [
            {
                "content": f'Pick {i}: a {label} note on {context}, {words(i, 6)}"',
                "logprob": -i / 10,
            }
            for i in range(n)
        ]

    script(fake_llm, texts)
    run = start(bench, 4, samples=6, rank=True, keep=2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    rows = Sample.objects.filter(run=run)
    picks = sorted(int(re.search(r"Pick (\d)", s.extra["text"]).group(1)) for s in rows)
    assert picks == [0, 0, 1, 1]
    assert sorted(rows.values_list("judge_score", flat=True)) == pytest.approx(
        [-0.1, -0.1, 0.0, 0.0]
    )


def test_a_text_is_cut_at_its_closing_quote_line_or_last_sentence() -> None:
    assert text_of('"It was grand." Then more', False) == "It was grand."
    assert text_of("Line one\nLine two", False) == "Line one"
    assert text_of("One sentence. Half a sen", True) == "One sentence."
    assert text_of("no end at all", True) is None
    assert text_of("complete without a stop", False) == "complete without a stop"
    prompt = 'The movie review in positive sentiment for movie "Up" is: "'
    assert text_of(prompt + 'A warm, funny ride." Then', False, prompt) == "A warm, funny ride."
    assert text_of('for movie "Up" is: "Lovely." x', False, prompt) == "Lovely."


def test_the_task_template_takes_label_and_context_as_data() -> None:
    template = 'The movie review in {{label}} sentiment for movie "{{ context }}" is: "'
    assert task_prompt(template, "positive", "{{label}}") == (
        'The movie review in positive sentiment for movie "{{label}}" is: "'
    )


def test_self_bleu_is_nltk_s_and_higher_for_repetitive_texts() -> None:
    bleu = pytest.importorskip("nltk.translate.bleu_score")
    varied = [
        "The cast shines in every scene.",
        "A slow plot, but the music helps.",
        "I left early, bored.",
    ]
    same = [
        "The cast shines in every scene.",
        "The cast shines in every scene!",
        "The cast shines in each scene.",
    ]
    sents = [tokens(t) for t in varied]
    smooth = bleu.SmoothingFunction().method1
    oracle = sum(
        bleu.sentence_bleu(sents[:i] + sents[i + 1 :], sents[i], smoothing_function=smooth)
        for i in range(3)
    )
    assert self_bleu(varied) == pytest.approx(oracle / 3)
    assert self_bleu(same) > 0.5 > self_bleu(varied)
    assert self_bleu(["only one"]) is None
