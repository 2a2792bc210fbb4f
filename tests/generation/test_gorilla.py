"""Gorilla / APIBench (#44): ten pairs per API doc, each call AST-matched to the doc; a
call to an API or model id the database lacks is a hallucination, flagged and dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.gorilla_calls import match, pairs, parse_call
from generation.runs.models import RunItem, RunStatus
from tests.generation.cases import counter, words
from tests.generation.cases.gorilla import DOCS, SEEDS, api_in, valid_call

SENTIMENT = DOCS["text.sentiment"]


def test_a_python_call_parses_with_positional_arguments_in_the_docs_order() -> None:
    call = parse_call("text.sentiment('so good', model='distilbert-sst2')", ["text", "model"])
    assert call.name == "text.sentiment"
    assert call.arguments == {"text": "so good", "model": "distilbert-sst2"}
    assert parse_call("text.sentiment(text=open('x'))").arguments is None
    assert parse_call("import os").arguments is None
    json_call = parse_call('{"name": "text.sentiment", "arguments": {"text": "hi"}}')
    assert json_call.arguments == {"text": "hi"}


def test_the_ast_match_tells_hallucination_from_wrong_api_and_missing_arguments() -> None:
    database = list(DOCS.values())
    ok = match(
        parse_call("text.sentiment(text='a', model='roberta-sentiment')"), SENTIMENT, database
    )
    assert ok.ok
    unknown_model = parse_call("text.sentiment(text='a', model='gpt-sentiment-xl')")
    assert match(unknown_model, SENTIMENT, database).verdict == "hallucination"
    unknown_api = parse_call("text.emotion(text='a')")
    assert match(unknown_api, SENTIMENT, database).verdict == "hallucination"
    other = parse_call("text.summarize(text='a')")
    assert match(other, SENTIMENT, database).verdict == "wrong_api"
    missing = match(parse_call("text.sentiment(text='a')"), SENTIMENT, database)
    assert missing.verdict == "ast_mismatch" and "model" in missing.problems[0]


def test_pairs_parse_from_a_json_list_or_labelled_lines() -> None:
    listed = pairs('```json\n[{"instruction": "Is it nice?", "api_call": "f(x=1)"}]\n```')
    assert [(p.instruction, p.call) for p in listed] == [("Is it nice?", "f(x=1)")]
    lines = "1. Instruction: Is it nice?\nAPI call: `f(x=1)`\nExplanation: because\n"
    assert [(p.call, p.explanation) for p in pairs(lines)] == [("f(x=1)", "because")]
    assert pairs("I cannot help with that.") == []


def script(fake: Any) -> dict[int, str]:
    """Ten fresh pairs per reply; the calls at the positions in the returned dict (filled in
    by the test) are replaced. The fake answers with the first script that matches."""
    bad: dict[int, str] = {}

    calls = counter()

    def reply(body: dict[str, Any]) -> str:
        name, base = api_in(body), 10 * calls()
        rows = []
        for i in range(10):
            call = (
                bad.get(i, valid_call(name, i)) if name == "text.sentiment" else valid_call(name, i)
            )
            rows.append(
                {"instruction": f"Sentiment of {words(base + i, 8)}?", "api_call": call,
                 "explanation": f"{name} serves it."}
            )  # fmt: skip
        return json.dumps(rows)

    fake.script(r"documentation of one API", reply)
    return bad


@pytest.mark.django_db(transaction=True)
def test_a_known_api_doc_gives_ten_matching_pairs_and_a_fake_model_id_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    one = [line for line in SEEDS.decode().splitlines() if "text.sentiment" in line]
    seeds = import_seed_set(bench.owner, bench.project, name="APIs", data="\n".join(one).encode())
    bad = script(fake_llm)
    run = bench.start("gorilla", 10, seed_set=seeds)
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 10
    for s in samples:
        meta = s.extra["metadata"]
        assert meta["api"] == "text.sentiment" and meta["ast"]["verdict"] == "match"
        call = parse_call(s.messages[-1]["content"].split("\n")[0].removeprefix("API call: "))
        assert call.name == "text.sentiment" and {"text", "model"} <= set(call.arguments or {})
        assert "Use this API documentation for reference:" in s.messages[0]["content"]

    fake = "text.sentiment(text='meh', model='sentiment-gpt-99')"
    bad.update({3: fake, 7: "text.moods(text='x')"})
    again = bench.start("gorilla", 8, seed_set=seeds)
    assert again.status == RunStatus.COMPLETED, again.last_error
    kept = Sample.objects.filter(run=again)
    assert kept.count() == 8
    assert all(s.extra["metadata"]["arguments"]["model"] != "sentiment-gpt-99" for s in kept)
    assert again.filtered["hallucination"] == 2 * RunItem.objects.filter(run=again).count()
