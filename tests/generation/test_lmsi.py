"""LMSI (#2): m CoT paths, majority vote, the majority's paths in four prompt formats."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.runs.models import RunStatus
from tests.generation.conftest import SEEDS

QUESTION = "A box has 6 rows of 7 eggs. How many eggs are in the box?"
MAJORITY = [f"Row {k}: 6 rows of 7 make 6 x 7 = 42.\nThe answer is 42." for k in range(20)]
OTHERS = [f"Guess {k}: about {30 + k}.\nThe answer is {30 + k}." for k in range(12)]


def one_question(bench: Any, **fields: Any) -> Any:
    row = {"question": QUESTION, "answer": "42", **fields}
    return import_seed_set(bench.owner, bench.project, name="Q", data=json.dumps(row).encode())


def script(fake: Any, paths: list[str]) -> None:
    served = itertools.cycle(paths)
    fake.script(r"\nA:\s*$", lambda body: [next(served) for _ in range(body.get("n") or 1)])


@pytest.mark.django_db(transaction=True)
def test_twenty_of_32_paths_say_42_and_exactly_those_are_exported_in_four_formats(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, MAJORITY + OTHERS)
    # The target counts rows: this one question makes 20 paths x 2 CoT formats + 2 direct rows.
    run = bench.start("lmsi", 42, seed_set=one_question(bench))
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert run.produced == len(samples) == 42
    formats = Counter(s.extra["format"] for s in samples)
    assert formats == {"cot_few_shot": 20, "cot_zero_shot": 20, "direct_few_shot": 1,
                       "direct_zero_shot": 1}  # fmt: skip
    cot = [s for s in samples if s.extra["format"].startswith("cot")]
    assert sorted(s.messages[-1]["content"] for s in cot) == sorted(MAJORITY * 2)
    for s in samples:
        assert s.extra["vote"] == {"answer": "42", "share": 0.625, "count": 20, "of": 32}
        assert s.step == s.extra["format"]
    by_format = {s.extra["format"]: s for s in samples}
    assert by_format["direct_zero_shot"].messages == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "The answer is 42."},
    ]
    assert by_format["direct_zero_shot"].extra["paths"] == 20
    few = by_format["direct_few_shot"].messages[0]["content"]
    assert few.endswith(f"Q: {QUESTION}\nA:\n") and "The answer is 6." in few
    assert "21 - 15" not in few  # direct exemplars show answers only
    assert "21 - 15 = 6" in by_format["cot_few_shot"].messages[0]["content"]
    assert by_format["cot_zero_shot"].messages[0]["content"].startswith(QUESTION)
    assert "Let's think step by step." in by_format["cot_zero_shot"].messages[0]["content"]
    # 32 paths at temperature 0.7, in four concurrent requests of 8.
    asked = fake_llm.requests
    assert [r["n"] for r in asked] == [8, 8, 8, 8]
    assert {r["temperature"] for r in asked} == {0.7}


@pytest.mark.django_db(transaction=True)
def test_a_target_below_one_questions_rows_keeps_the_direct_rows_and_the_first_paths(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, MAJORITY + OTHERS)
    run = bench.start("lmsi", 6, seed_set=one_question(bench))
    assert run.status == RunStatus.COMPLETED, run.last_error
    formats = Counter(Sample.objects.filter(run=run).values_list("extra__format", flat=True))
    assert formats == {"direct_few_shot": 1, "direct_zero_shot": 1, "cot_few_shot": 2,
                       "cot_zero_shot": 2}  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_vote_share_below_tau_drops_the_question(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, MAJORITY + OTHERS)
    run = bench.start("lmsi", 10, seed_set=one_question(bench), params={"min_share": 0.7})
    assert run.produced == 0
    assert run.filtered == {"low_vote_share": 1}


@pytest.mark.django_db(transaction=True)
def test_a_tied_majority_is_dropped(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, ["So 42.\nThe answer is 42.", "So 41.\nThe answer is 41."])
    run = bench.start("lmsi", 10, seed_set=one_question(bench), params={"m": 4})
    assert run.produced == 0 and run.filtered == {"tied_vote": 1}


@pytest.mark.django_db(transaction=True)
def test_identical_paths_are_kept_once(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, ["So 42.\nThe answer is 42."] * 3 + ["So 41.\nThe answer is 41."])
    run = bench.start("lmsi", 10, seed_set=one_question(bench), params={"m": 4})
    assert run.produced == 4  # one path in two CoT formats, and the two direct rows
    assert run.filtered == {"duplicate_path": 2}


@pytest.mark.django_db(transaction=True)
def test_instruction_seeds_are_unlabelled_questions_too(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, ["Three and four.\nThe answer is 7."])
    run = bench.start("lmsi", 3, params={"m": 2})
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.filter(run=run, extra__format="direct_zero_shot").first()
    assert sample is not None and sample.extra["vote"]["share"] == 1.0
    asked = {f"{instruction}\n\n{given}".strip() for instruction, given, _ in SEEDS}
    assert sample.messages[0]["content"] in asked
