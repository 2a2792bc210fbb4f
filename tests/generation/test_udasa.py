"""UDASA (#23): five responses with known uncertainty vectors → the lowest u is chosen, a
sub-optimal one rejected, the stage comes from the thresholds, and Δu = 0 pairs drop.

The fake embedder below gives each response a known vector, and the fake server gives
each response known factual and value scores, so every response's (semantic, factual,
value) vector is known in advance (equal weights):

    response  semantic  factual  value   u
    A         0.3       0.0      0.0     0.1      ← chosen (lowest u)
    B         0.3       0.2      0.0     0.1667   ← next
    C         0.3       0.4      0.2     0.3
    D         0.4       0.2      0.2     0.2667   ← median of the other four
    E         1.0       0.8      0.6     0.8      ← worst
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Judgement, Sample
from generation.recipes import udasa_uncertainty as unc
from generation.recipes.kit.item import Drop
from generation.recipes.udasa import Udasa
from generation.runs.models import RunItem, RunStatus
from tests.exports.helpers import export_now

LETTERS = "ABCDE"
# Semantic: A, B and C point the same way, D nearly so, E elsewhere.
VECTORS = {
    "A": [1.0, 0.0, 0.0],
    "B": [1.0, 0.0, 0.0],
    "C": [1.0, 0.0, 0.0],
    "D": [0.8, 0.6, 0.0],
    "E": [0.0, 0.0, 1.0],
}
# Three judge samples each, on 0-5; D's factual samples disagree (mean 4, spread 0.8).
FACTUAL = {"A": [5, 5, 5], "B": [4, 4, 4], "C": [3, 3, 3], "D": [5, 4, 3], "E": [1, 1, 1]}
VALUE = {"A": [5, 5, 5], "B": [5, 5, 5], "C": [4, 4, 4], "D": [4, 4, 4], "E": [2, 2, 2]}
U = {"A": 0.1, "B": 0.1667, "C": 0.3, "D": 0.2667, "E": 0.8}
PROMPTS = r"^(Write a short poem|Classify|Convert|Summarise|Give three|Explain)"


class Embedder:
    """Known vectors by the response's letter; counts what it is asked to embed."""

    name, dim = "fake-3d", 3
    asked: Counter[tuple[str, ...]] = Counter()

    def encode(self, texts: list[str]) -> Any:
        Embedder.asked[tuple(texts)] += 1
        rows = np.array([VECTORS[letter(t)] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def letter(text: str) -> str:
    return re.search(r"resp-([A-E])", text).group(1)


def judged(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    return letter(text.split("<response>")[1].split("</response>")[0])


def responses(body: dict[str, Any]) -> list[str]:
    """Five responses, told apart by letter and by the prompt they answer."""
    words = body["messages"][-1]["content"].split()[:3]
    return [f"resp-{x}: an answer about {' '.join(words)}." for x in LETTERS]


def scores(table: dict[str, list[int]]) -> Any:
    return lambda body: [f"Checked. Score: {s}" for s in table[judged(body)]]


def script(fake: Any, factual: Any = None, value: Any = None) -> None:
    fake.script(r"^Judge how factually reliable", factual or scores(FACTUAL))
    fake.script(r"^Judge how well the assistant", value or scores(VALUE))
    fake.script(PROMPTS, responses)


@pytest.fixture
def embedder(monkeypatch: Any) -> type[Embedder]:
    Embedder.asked = Counter()
    monkeypatch.setattr("generation.recipes.kit.pools.local", Embedder)
    return Embedder


# -- the numbers, with mocked uncertainty vectors -------------------------------------------


def test_semantic_uncertainty_is_one_minus_the_mean_cosine_to_the_other_responses() -> None:
    assert unc.dispersion(list(VECTORS.values())) == [0.3, 0.3, 0.3, 0.4, 1.0]
    assert unc.dispersion([[1.0, 0.0]] * 3) == [0.0, 0.0, 0.0]  # all agree: no uncertainty
    assert unc.lexical_dispersion(["a b c", "a b c", "x y z"]) == [0.5, 0.5, 1.0]


def test_u_is_the_weighted_mean_of_the_axes_and_an_unknown_axis_leaves_a_response_out() -> None:
    axes = {"semantic": [0.3, 0.9], "factual": [0.0, None], "value": [0.6, 0.0]}
    weights = {"semantic": 1.0, "factual": 1.0, "value": 2.0}
    assert unc.combine(axes, weights) == [0.375, None]  # (0.3 + 0 + 2·0.6) / 4
    # A weight of 0 leaves its axis out, even where it is unknown.
    assert unc.combine(axes, {"semantic": 1.0, "factual": 0.0, "value": 1.0}) == [0.45, 0.45]


def test_the_lowest_u_is_chosen_and_the_rule_picks_a_sub_optimal_rejected() -> None:
    u = [U[x] for x in LETTERS]
    assert unc.pick(u, "median") == unc.Pair(0, 3, 0.1667)  # D, the middle of B D C E
    assert unc.pick(u, "next") == unc.Pair(0, 1, 0.0667)
    assert unc.pick(u, "worst") == unc.Pair(0, 4, 0.7)
    assert unc.pick([0.4, None, 0.2, 0.2], "worst") == unc.Pair(2, 0, 0.2)  # tie: the earlier
    with pytest.raises(Drop, match="unjudgeable"):
        unc.pick([0.4, None, None], "median")


def test_the_stage_comes_from_the_thresholds_with_clear_gaps_conservative() -> None:
    stages = [unc.stage(d, 0.1, 0.25) for d in (0.7, 0.25, 0.2499, 0.1, 0.0667)]
    assert stages == ["conservative", "conservative", "moderate", "moderate", "exploratory"]


def test_the_pair_is_as_sure_as_its_gap_and_its_least_consistent_judgement() -> None:
    assert unc.pair_confidence(0.7, 0.25, [1.0, 1.0]) == 1.0
    assert unc.pair_confidence(0.1667, 0.25, [1.0, 0.6734]) == 0.6668
    assert unc.pair_confidence(0.2, 0.25, [0.5, None]) == 0.5
    assert unc.pair_confidence(0.05, 0.25, [None]) == 0.2  # one sample: the gap alone


# -- runs against the fake server -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("rule", "rejected", "stage", "confidence"),
    [
        ("median", "D", "moderate", 0.6668),
        ("next", "B", "exploratory", 0.2668),
        ("worst", "E", "conservative", 1.0),
    ],
)
def test_five_responses_pair_the_lowest_u_against_a_sub_optimal_one_in_its_stage(
    bench: Any, fake_llm: Any, embedder: Any, rule: str, rejected: str, stage: str,
    confidence: float,
) -> None:  # fmt: skip
    script(fake_llm)
    run = bench.start("udasa", 1, params={"rejected": rule})
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = run.samples.get()
    assert sample.kind == "preference"
    assert letter(sample.chosen[0]["content"]) == "A"
    assert letter(sample.rejected[0]["content"]) == rejected
    meta = sample.extra["metadata"]
    assert [r["u"] for r in meta["uncertainty"]] == [U[x] for x in LETTERS]
    assert meta["uncertainty"][3] == {"semantic": 0.4, "factual": 0.2, "value": 0.2, "u": 0.2667}
    assert meta["delta_u"] == pytest.approx(U[rejected] - U["A"], abs=1e-4)
    assert meta["stage"] == stage and sample.extra["tags"] == [f"stage:{stage}"]
    assert sample.tags == [f"stage:{stage}"]  # what queue and export filters match
    sample.status = "accepted"
    sample.save(update_fields=["status"])
    staged = export_now(
        bench.owner, bench.project, format="dpo", filters={"tags": [f"stage:{stage}"]}
    )
    assert staged.rows_written == 1
    with pytest.raises(ServiceError, match="No samples match"):
        export_now(bench.owner, bench.project, format="dpo", filters={"tags": ["stage:none"]})
    assert meta["chosen"] == 0 and meta["rejected"] == LETTERS.index(rejected)
    assert meta["semantic_method"] == "embedding:fake-3d"
    assert sample.judge_confidence == pytest.approx(confidence, abs=1e-4)
    # Factual and value judgements of both sides; the chosen scored 5 on both.
    assert Judgement.objects.filter(sample=sample).count() == 4
    assert sample.judge_score == 5.0
    assert Udasa.report(run)["stages"][stage] == 1


@pytest.mark.django_db(transaction=True)
def test_a_pair_with_no_uncertainty_gap_is_dropped(
    bench: Any, fake_llm: Any, embedder: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(VECTORS, "E", [1.0, 0.0, 0.0])
    same = {x: [4, 4, 4] for x in LETTERS}
    script(fake_llm, scores(same), scores(same))
    run = bench.start("udasa", 3)
    assert run.status == RunStatus.FAILED
    assert run.produced == 0 and Sample.objects.filter(run=run).count() == 0
    assert run.filtered == {"no_uncertainty_gap": 6}
    assert "no_uncertainty_gap (6)" in run.last_error


@pytest.mark.django_db(transaction=True)
def test_a_gap_at_or_below_the_minimum_is_dropped(bench: Any, fake_llm: Any, embedder: Any) -> None:
    script(fake_llm)
    run = bench.start("udasa", 1, params={"rejected": "next", "min_delta": 0.1})
    assert run.status == RunStatus.FAILED
    item = RunItem.objects.filter(run=run, reason="no_uncertainty_gap").first()
    assert item is not None and item.detail == "Δu 0.0667"


@pytest.mark.django_db(transaction=True)
def test_the_factual_judge_sees_the_other_responses_unless_told_not_to(
    bench: Any, fake_llm: Any, embedder: Any
) -> None:
    script(fake_llm)
    bench.start("udasa", 1)
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    factual = [t for t in asked if t.startswith("Judge how factually reliable")]
    about_a = next(t for t in factual if "<response>\nresp-A" in t)
    others = about_a.split("<other_answers>")[1]
    assert sorted(map(letter, re.findall(r"resp-[A-E][^\n]*", others))) == list("BCDE")
    fake_llm.requests.clear()
    bench.start("udasa", 1, params={"factual_self_check": False})
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert not any("<other_answers>" in t for t in asked)


@pytest.mark.django_db(transaction=True)
def test_an_axis_weighted_zero_is_not_judged_and_does_not_count(
    bench: Any, fake_llm: Any, embedder: Any
) -> None:
    script(fake_llm)
    run = bench.start("udasa", 1, params={"weight_value": 0.0, "rejected": "worst"})
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert not any(t.startswith("Judge how well the assistant") for t in asked)
    meta = run.samples.get().extra["metadata"]
    assert meta["weights"] == {"semantic": 0.5, "factual": 0.5}
    assert [r["u"] for r in meta["uncertainty"]] == [0.15, 0.25, 0.35, 0.3, 0.9]
    assert "value" not in meta["uncertainty"][0]


@pytest.mark.django_db(transaction=True)
def test_a_resumed_item_reads_its_semantic_uncertainty_from_the_journal(
    bench: Any, fake_llm: Any, embedder: Any, settings: Any
) -> None:
    settings.SEEDBED_RUN_SLICE_SECONDS = 0.5
    settings.SEEDBED_RUN_GRACE_SECONDS = 0.1
    fake_llm.latency = 0.25
    script(fake_llm)
    run = bench.start("udasa", 6)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.slices >= 2 and run.state["kit"]["replayed_steps"] > 0
    # Six prompts, six sets of responses, each embedded once although items resumed.
    assert len(embedder.asked) == 6 and set(embedder.asked.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_without_an_embedder_rouge_l_stands_in_and_the_run_notes_it(
    bench: Any, fake_llm: Any, monkeypatch: Any
) -> None:
    def unavailable() -> Any:
        raise OSError("no model files")

    monkeypatch.setattr("generation.recipes.kit.pools.local", unavailable)
    script(fake_llm)
    run = bench.start("udasa", 1)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.samples.get().extra["metadata"]["semantic_method"] == "rouge_l"
    assert run.state["kit"]["notes"]["semantic_by_rouge_l"] >= 1


def test_the_axis_weights_and_thresholds_must_make_sense() -> None:
    with pytest.raises(ValueError, match="at least one axis weight"):
        Udasa.Params(weight_semantic=0, weight_factual=0, weight_value=0)
    with pytest.raises(ValueError, match="moderate_at is above conservative_at"):
        Udasa.Params(moderate_at=0.3, conservative_at=0.2)
