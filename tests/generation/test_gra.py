"""GRA (#17): a generator, three reviewers and an adjudicator dealt from a pool per sample;
the reviewers' mean and spread gate the sample, an adjudicator settles conflicts, and
near-copies (cosine ≥ 0.95) leave.

The fake panel gives every instruction its own number, so each item's three reviews can be
scripted by topic whatever order they arrive in; the fake embedder maps every instruction of
one topic to (almost) the same vector.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
from collections import Counter
from typing import Any

import numpy as np
import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes import gra_panel as panel
from generation.recipes.base import SeedRow
from generation.runs.models import Run, RunItem, RunStatus

TOPICS = ("alpha", "beta", "gamma")


class Fake:
    """Keywords, generations and reviews by topic; reviews counted per instruction."""

    def __init__(self, reviews: dict[str, tuple[int, ...]], decision: str = "accept") -> None:
        self.reviews, self.decision = reviews, decision
        self.numbers, self.seen, self.lock = itertools.count(1), Counter[str](), threading.Lock()

    @staticmethod
    def topic(text: str) -> str:
        return next(t for t in TOPICS if t in text.lower())

    def keywords(self, body: dict[str, Any]) -> str:
        topic = self.topic(body["messages"][-1]["content"])
        return f"Keywords: {topic}, basics\nSummary: Explaining {topic} simply."

    def generate(self, body: dict[str, Any]) -> str:
        topic = self.topic(body["messages"][-1]["content"])
        return (f"Instruction: Explain {topic} to a child, take {next(self.numbers)}.\n"
                f"Response: {topic.title()} is a simple idea.")  # fmt: skip

    def review(self, body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        instruction = re.search(r"<instruction>\n(.*?)\n</instruction>", text, re.S).group(1)  # type: ignore[union-attr]
        with self.lock:
            k = self.seen[instruction]
            self.seen[instruction] += 1
        return f"Critique {k + 1}: fine. Score: {self.reviews[self.topic(instruction)][k % 3]}"

    def script(self, fake: Any) -> None:
        fake.script(r"^Read the example task", self.keywords)
        fake.script(r"^You write new training data", self.generate)
        fake.script(r"^You review training data", self.review)
        fake.script(
            r"^You are the adjudicator", f"Reviewer 2 is too harsh.\nDecision: {self.decision}"
        )
        fake.script(r"^Classify the task", "Domain: Science\nDifficulty: Easy")


class Embedder:
    """One axis per topic, each instruction a little off it (the same topic: cosine > 0.99)."""

    name, dim = "fake-3d", 3

    def encode(self, texts: list[str]) -> Any:
        rows = []
        for text in texts:
            row = [0.05 * (int(re.search(r"take (\d+)", text).group(1)) % 3)] * 3  # type: ignore[union-attr]
            row[TOPICS.index(Fake.topic(text))] = 1.0
            rows.append(row)
        array = np.array(rows, dtype=np.float32)
        return array / np.linalg.norm(array, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def embedder(monkeypatch: Any) -> None:
    monkeypatch.setattr("generation.recipes.kit.pools.local", Embedder)


def start(bench: Any, fake: Any, panel_: Fake, topics: tuple[str, ...], target: int,
          **kwargs: Any) -> Run:  # fmt: skip
    panel_.script(fake)
    lines = "\n".join(json.dumps({"instruction": f"Explain {t}.", "output": "It is."})
                      for t in topics)  # fmt: skip
    seeds = import_seed_set(bench.owner, bench.project, name="Topics", data=lines.encode())
    return bench.start("gra", target, seed_set=seeds, **kwargs)


def by_topic(run: Run) -> dict[str, Sample]:
    return {Fake.topic(s.messages[0]["content"]): s for s in Sample.objects.filter(run=run)}


# -- the panel without the model -------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "verdict"),
    [((9, 3, 8), "adjudicate"), ((9, 9, 8), "accept"), ((10, 10, 6), "adjudicate"),
     ((4, 5, 3), "reject"), ((9, 1, 1), "reject"), ((8, 8, 8), "accept")],
)  # fmt: skip
def test_a_high_mean_they_agree_on_is_accepted_a_low_one_rejected_the_rest_adjudicated(
    scores: tuple[int, ...], verdict: str
) -> None:
    assert panel.gate(scores, 8.0, 1.0, 5.0).verdict == verdict


def test_roles_are_dealt_at_random_and_the_generator_never_reviews_its_own_sample() -> None:
    pool = ["model_a", "model_b", "model_c", "model_d", "model_e"]
    dealt = [panel.assign(random.Random(k), pool, 3) for k in range(40)]
    for d in dealt:
        assert len({d.generator, *d.reviewers, d.adjudicator}) == 5
    assert len({d.generator for d in dealt}) == 5  # everyone generates some time
    small = panel.assign(random.Random(0), pool[:2], 3)
    assert small.generator not in (*small.reviewers, small.adjudicator)


def test_generator_and_metadata_replies_are_read_with_or_without_markdown() -> None:
    bold = "**Instruction:** Add 2 and 3.\n\n**Response:** 5"
    assert panel.parse_pair(bold) == ("Add 2 and 3.", "5")
    assert panel.parse_pair("### Instruction\nAdd 2 and 3.\n\n### Response\n5") == (
        "Add 2 and 3.",
        "5",
    )
    assert panel.parse_pair("Add 2 and 3. The answer is 5.") is None
    assert panel.parse_pair("Instructions are given.\nResponses vary.") is None
    assert panel.parse_keywords("maths, sums") == ("", "maths, sums")
    assert (
        panel.parse_decision("Decision: accept... on second thought Decision: Reject") == "reject"
    )
    assert panel.parse_metadata("Domain: **Mathematics**\nDifficulty: Intermediate") == (
        "mathematics", "medium",
    )  # fmt: skip
    assert panel.parse_metadata("It is maths.") == (None, None)


def test_a_seed_gives_its_domain_from_its_fields() -> None:
    seed = SeedRow(1, "instruction", {"instruction": "Add.", "meta": {"category": "Maths"}}, "")
    assert panel.seed_domain(seed) == "Maths"
    assert panel.seed_domain(SeedRow(2, "qa", {"question": "Why?"}, "")) == "general"


# -- runs against the fake server -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_conflicting_reviews_go_to_the_adjudicator_and_agreeing_ones_are_accepted_without(
    bench: Any, fake_llm: Any
) -> None:
    run = start(
        bench, fake_llm, Fake({"alpha": (9, 3, 8), "beta": (9, 9, 8)}), ("alpha", "beta"), 2
    )
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = by_topic(run)
    alpha, beta = samples["alpha"].extra["metadata"], samples["beta"].extra["metadata"]
    assert alpha["decision_path"] == "accepted_by_adjudicator"
    assert sorted(r["score"] for r in alpha["reviews"]) == [3.0, 8.0, 9.0]
    assert alpha["adjudication"]["decision"] == "accept"
    assert alpha["adjudication"]["role"] == alpha["roles"]["adjudicator"]
    assert beta["decision_path"] == "accepted_by_reviewers" and beta["adjudication"] is None
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    adjudicated = [text for text in asked if text.startswith("You are the adjudicator")]
    assert adjudicated and all("alpha" in text and "beta" not in text for text in adjudicated)
    assert "(score 3): Critique" in adjudicated[0]  # the adjudicator reads the reviews
    # Metadata, the reviewers' scores and their disagreement as the confidence.
    assert (beta["domain"], beta["difficulty"]) == ("science", "easy")
    assert samples["alpha"].judge_confidence == round(1 - np.std([9, 3, 8]) / 4.5, 4)
    assert samples["beta"].judge_confidence == round(1 - np.std([9, 9, 8]) / 4.5, 4)
    assert samples["beta"].judge_score == round((9 + 9 + 8) / 3, 4)
    judgements = samples["beta"].judgements.all()
    assert sorted(j.score for j in judgements) == [8.0, 9.0, 9.0]
    assert {j.rubric_id for j in judgements} == {"review"}
    assert "difficulty:easy" in samples["beta"].tags
    roles = beta["roles"]
    assert roles["generator"] not in roles["reviewers"] and len(set(roles["reviewers"])) == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("reviews", "decision", "reason"),
    [((4, 5, 3), "accept", "rejected_by_reviewers"),
     ((9, 3, 8), "reject", "rejected_by_adjudicator")],
)  # fmt: skip
def test_low_reviews_and_an_adjudicators_no_reject_the_sample(
    bench: Any, fake_llm: Any, reviews: tuple[int, ...], decision: str, reason: str
) -> None:
    run = start(bench, fake_llm, Fake({"gamma": reviews}, decision), ("gamma",), 1,
                futility_limit=3)  # fmt: skip
    assert run.status == RunStatus.FAILED and run.produced == 0
    reasons = set(
        RunItem.objects.filter(run=run, outcome="filtered").values_list("reason", flat=True)
    )
    assert reasons == {reason}
    asked = fake_llm.count(r"^You are the adjudicator")
    assert asked == 0 if reason == "rejected_by_reviewers" else asked >= 3


@pytest.mark.django_db(transaction=True)
def test_of_two_items_with_cosine_above_0_95_one_is_removed(bench: Any, fake_llm: Any) -> None:
    run = start(bench, fake_llm, Fake({"alpha": (9, 9, 9)}), ("alpha",), 2, futility_limit=3)
    assert run.status == RunStatus.FAILED and run.produced == 1  # every later alpha is a copy
    copies = RunItem.objects.filter(run=run, reason="near_duplicate")
    assert copies.count() >= 3
    assert all(float(d.split()[1]) > 0.95 for d in copies.values_list("detail", flat=True))
