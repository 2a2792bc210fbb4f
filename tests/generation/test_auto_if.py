"""AutoIF (#5): "answer in all lowercase" through verifiers, cross-validation, NLI, the
sandbox and the consistency judge, out as one SFT row and one DPO pair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.auto_if_verify import is_constraint, joined, parse_verifier
from generation.recipes.base import SeedRow
from generation.recipes.kit.seeds import seed_prompt
from generation.runs.models import RunItem, RunStatus
from tests.exports.helpers import export_now, jsonl_rows
from tests.generation.cases.auto_if import (
    AUGMENT,
    BACK,
    CONSISTENCY,
    LOWERCASE,
    NLI,
    QUERIES,
    RESPOND,
    VERIFIER,
    lowercase_verifiers,
    seeds,
    verifier,
)

LOWER = "answer in all lowercase"
QUERY = "Describe how a rainbow forms after a storm."
ONE = {"verifiers": 3, "queries": 1, "responses": 2, "new_instructions": 0}
# A verifier that imports requests and calls it on a line of its own: both lines go.
WITH_REQUESTS = (
    "import requests\ndef evaluate(response):\n    requests.get('http://example.com')\n"
    "    return response.lower() == response"
)
# Its only body line names requests: stripped, it no longer compiles.
ONLY_REQUESTS = "def evaluate(response):\n    return requests.get('http://x').ok"
# Returns True only if it can reach the network, which the sandbox refuses.
FETCHES = (
    "import urllib.request\ndef evaluate(response):\n"
    "    urllib.request.urlopen('http://example.com', timeout=2)\n    return True"
)


def seed_set(bench: Any, constraints: list[str], queries: list[str]) -> Any:
    data = seeds(constraints, queries)
    return import_seed_set(bench.owner, bench.project, name="IF", data=data)


def scripted(
    fake: Any,
    verifiers: Any = lowercase_verifiers,
    responses: Any = ("hello world", "Hello"),
    nli: str = "Label: entailment",
    consistency: str = "It answers the query.\nScore: 9",
) -> None:
    fake.script(VERIFIER, verifiers)
    fake.script(BACK, "Answer in all lowercase letters.")
    fake.script(NLI, nli)
    fake.script(RESPOND, lambda _b: list(responses))
    fake.script(CONSISTENCY, consistency)


def start(bench: Any, target: int, params: Any = ONE, queries: Any = (QUERY,), **kw: Any) -> Any:
    chosen = seed_set(bench, [LOWER], list(queries))
    return bench.start("auto_if", target, seed_set=chosen, params=params, **kw)


@pytest.mark.django_db(transaction=True)
def test_all_lowercase_makes_one_sft_row_and_one_dpo_pair_that_export(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm)
    run = start(bench, 2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sft = Sample.objects.get(run=run, kind="sft")
    pair = Sample.objects.get(run=run, kind="preference")
    prompt = f"{QUERY} Answer in all lowercase."
    assert sft.messages == [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": "hello world"},
    ]
    assert pair.messages == [{"role": "user", "content": prompt}]
    assert pair.chosen == [{"role": "assistant", "content": "hello world"}]
    assert pair.rejected == [{"role": "assistant", "content": "Hello"}]
    meta = sft.extra["metadata"]
    # Each verifier compiles and gives every one of the twelve cases its expected output.
    assert meta["verifier_accuracy"] == [1.0, 1.0, 1.0] and meta["cases"] == 12
    assert meta["verifiers"] == [func for func, _ in LOWERCASE]
    back = {"back_translation": "Answer in all lowercase letters.", "label": "entailment"}
    assert meta["nli"] == [back, back, back] and meta["origin"] == "seed"
    # "hello world" passes all three verifiers, "Hello" none.
    assert (meta["pass_rate"], meta["verdicts"]) == (1.0, [True, True, True])
    assert pair.extra["metadata"]["rejected_verdicts"] == [False, False, False]
    assert sft.judge_score == 9.0 and pair.judge_score is None
    filters = {"run_ids": [run.pk], "statuses": ["pending"], "kinds": ["sft"]}
    (row,) = jsonl_rows(export_now(bench.owner, bench.project, format="openai", filters=filters))
    assert row["messages"][-1] == {"role": "assistant", "content": "hello world"}
    filters["kinds"] = ["preference"]
    (dpo,) = jsonl_rows(export_now(bench.owner, bench.project, format="dpo", filters=filters))
    assert (dpo["prompt"], dpo["chosen"], dpo["rejected"]) == (prompt, "hello world", "Hello")


@pytest.mark.django_db(transaction=True)
def test_a_verifier_importing_requests_is_stripped_and_one_that_fetches_cannot(
    bench: Any, fake_llm: Any
) -> None:
    good = [verifier(func, list(cases)) for func, cases in LOWERCASE[:2]]
    with_requests = verifier(WITH_REQUESTS, list(LOWERCASE[2][1]))
    broken = verifier(ONLY_REQUESTS, [("Loud", True)])  # its case is not counted: it never ran
    fetches = verifier(FETCHES, [("anything", True)])
    scripted(fake_llm, lambda _b: [*good, with_requests, broken, fetches])
    run = start(bench, 2, ONE | {"verifiers": 5})
    assert run.status == RunStatus.COMPLETED, run.last_error
    meta = Sample.objects.get(run=run, kind="sft").extra["metadata"]
    kept = meta["verifiers"]
    assert len(kept) == 3 and not any("requests" in code for code in kept)
    assert kept[2] == "def evaluate(response):\n    return response.lower() == response"
    assert meta["stripped_lines"] == 2 and meta["cases"] == 13
    assert run.filtered == {"verifier_error": 1, "verifier_inaccurate": 1}


@pytest.mark.django_db(transaction=True)
def test_nine_test_cases_are_too_few_and_nothing_is_answered(bench: Any, fake_llm: Any) -> None:
    nine = [verifier(func, list(cases[:3])) for func, cases in LOWERCASE]
    scripted(fake_llm, lambda _b: nine)
    run = start(bench, 2, futility_limit=2)
    assert run.status == RunStatus.FAILED and run.produced == 0
    item = RunItem.objects.get(run=run)
    assert (item.reason, item.detail) == ("too_few_cases", "9 cases")
    assert fake_llm.count(RESPOND) == 0


@pytest.mark.django_db(transaction=True)
def test_a_contradicting_back_translation_drops_the_instruction(bench: Any, fake_llm: Any) -> None:
    scripted(fake_llm, nli="One asks for capitals.\nLabel: contradiction")
    run = start(bench, 2, futility_limit=2)
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert RunItem.objects.get(run=run).reason == "nli_contradiction"
    assert fake_llm.count(NLI) == 3 and fake_llm.count(RESPOND) == 0


@pytest.mark.django_db(transaction=True)
def test_an_off_topic_response_is_no_sft_row_but_still_the_chosen_of_a_pair(
    bench: Any, fake_llm: Any
) -> None:
    scripted(fake_llm, consistency="It ignores the query.\nScore: 8")
    run = start(bench, 2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert list(Sample.objects.filter(run=run).values_list("kind", flat=True)) == ["preference"]
    assert run.filtered == {"consistency_low": 1}


@pytest.mark.django_db(transaction=True)
def test_with_the_papers_all_pass_rule_a_half_passing_response_is_no_sft_row(
    bench: Any, fake_llm: Any
) -> None:
    half = [verifier(func, list(cases)) for func, cases in LOWERCASE]
    half.append(verifier("def evaluate(response):\n    return ' ' in response", []))
    scripted(fake_llm, lambda _b: half, responses=("hello", "Hello"))
    run = start(bench, 2, ONE | {"verifiers": 4, "sft_min_pass": 1.0})
    # "hello" passes three of four verifiers: enough for a pair, not for an SFT row.
    pair = Sample.objects.get(run=run)
    assert pair.kind == "preference" and pair.extra["metadata"]["chosen_pass_rate"] == 0.75
    assert fake_llm.count(CONSISTENCY) == 0


@pytest.mark.django_db(transaction=True)
def test_new_instructions_from_the_seeds_become_items_of_their_own(
    bench: Any, fake_llm: Any
) -> None:
    lines = "- Answer in all lowercase\n- Reply with no capital letters at all, ever.\n- Hi"
    fake_llm.script(AUGMENT, lines)
    scripted(fake_llm, responses=("hello there", "Hello There"))
    run = start(bench, 4, ONE | {"new_instructions": 3}, futility_limit=30)
    made = Sample.objects.filter(run=run, kind="sft")
    origins = {s.extra["metadata"]["instruction"]: s.extra["metadata"]["origin"] for s in made}
    assert origins == {LOWER: "seed", "Reply with no capital letters at all, ever.": "generated"}
    asked = next(b for b in fake_llm.requests if "instructions about the format" in str(b))
    assert f"- {LOWER}" in asked["messages"][-1]["content"]
    assert run.filtered["instruction_copy"] >= 1  # the seed itself, written again


@pytest.mark.django_db(transaction=True)
def test_without_query_seeds_the_model_writes_the_queries(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(QUERIES, "- How do I keep basil alive on a windowsill?\n- Too short")
    scripted(fake_llm)
    run = start(bench, 2, queries=())
    assert run.status == RunStatus.COMPLETED, run.last_error
    sft = Sample.objects.get(run=run, kind="sft")
    assert sft.messages[0]["content"] == (
        "How do I keep basil alive on a windowsill? Answer in all lowercase."
    )


@pytest.mark.django_db(transaction=True)
def test_a_seed_set_without_constraints_is_refused_at_the_start(bench: Any) -> None:
    with pytest.raises(ServiceError, match='"type": "constraint"'):
        bench.start("auto_if", 2)


def test_a_verifier_written_with_raw_newlines_in_its_json_still_parses() -> None:
    reply = '```json\n{"func": "def evaluate(response):\n    return response.islower()",\n'
    reply += '"cases": [{"input": "ok", "output": "true"}, {"input": "No", "output": false}]}\n```'
    found = parse_verifier(reply)
    assert found is not None and found.code.endswith("return response.islower()")
    assert [(c.input, c.output) for c in found.cases] == [("ok", True), ("No", False)]
    assert parse_verifier('{"func": "print(1)", "cases": []}') is None


def test_a_verifier_with_pythons_true_and_false_in_its_json_still_parses() -> None:
    reply = '{"func": "def evaluate(response):\\n    return response.islower()", "cases": '
    reply += '[{"input": "True story", "output": False}, {"input": "ok", "output": True}]}'
    found = parse_verifier(reply)
    assert found is not None
    assert [(c.input, c.output) for c in found.cases] == [("True story", False), ("ok", True)]


def test_the_sft_prompt_is_the_query_then_the_instruction_as_a_sentence() -> None:
    assert joined("Name a fruit", "use one word") == "Name a fruit. Use one word."
    assert joined("What is rain?", "Answer briefly.") == "What is rain? Answer briefly."
    assert json.dumps(joined("", "be brief")) == '"Be brief."'


@pytest.mark.django_db
def test_the_demo_set_holds_six_constraints_and_six_queries_of_the_right_length(
    bench: Any,
) -> None:
    data = (Path(__file__).parents[2] / "curation/demo/data/if_constraints.jsonl").read_bytes()
    demo = import_seed_set(bench.owner, bench.project, name="Demo IF", data=data)
    rows = [SeedRow(s.pk, s.kind, s.payload, s.text) for s in demo.seeds.all()]
    constraints = [r for r in rows if is_constraint(r)]
    queries = [seed_prompt(r) for r in rows if not is_constraint(r)]
    assert len(constraints) == 6 and len(queries) == 6
    assert all(20 <= len(q) <= 300 for q in queries)
