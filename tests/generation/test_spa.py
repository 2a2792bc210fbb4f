"""SPA, approximation (#21): implicit rewards from two served models label pairs; small margins
go to people; without prompt logprobs (or with one model) a judge labels them, and says so.

Two fake servers play the two models. The aligned one is the bench's fake; the reference one
gives every prompt token the same logprob less `BY` nats, so a response of n tokens has the
implicit reward β·BY·n: the longer response wins, by β·BY·(difference in tokens).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.review.models import QueueItem, ReviewQueue
from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.registry import get_recipe
from generation.recipes.spa import SAME_MODEL
from generation.recipes.spa_reward import confidence, preference, review_below
from generation.runs.models import RunStatus
from tests.fakes.openai_server import FakeOpenAI, prompt_tokens

BETA, BY, TAU = 0.1, 1.0, 0.5
TRANSCRIPT = "User: {prompt}\n\nAssistant:\n"
# prompt → the policy's two responses. Colour: 1 vs 8 tokens, a margin of 0.7 ≥ τ (the longer,
# second, response wins). Hello: 3 vs 2 tokens, a margin of 0.1 < τ: flagged for review.
PAIRS = {
    "Name a colour.": ["Blue.", "Blue, the colour of a clear summer sky."],
    "Say hello.": ["Hello there, friend.", "Hello there."],
}
LONG = {prompt: max(texts, key=len) for prompt, texts in PAIRS.items()}


class LessSure(FakeOpenAI):
    """A second model: the first fake's prompt logprobs, each token `by` nats lower."""

    def __init__(self, by: float, **kwargs: Any) -> None:
        super().__init__(model="reference-model", **kwargs)
        self.by = by

    def _text(self, handler: Any, body: dict[str, Any], text: str) -> None:
        super()._text(_Lowered(handler, self.by), body, text)


class _Lowered:
    """The handler, with every logprob of a text completion's reply lowered before it goes."""

    def __init__(self, handler: Any, by: float) -> None:
        self.handler, self.by = handler, by

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handler, name)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        for choice in payload.get("choices") or []:
            echoed = choice.get("logprobs") or {}
            if echoed.get("token_logprobs"):
                echoed["token_logprobs"] = [
                    None if v is None else v - self.by for v in echoed["token_logprobs"]
                ]
            for entry in choice.get("prompt_logprobs") or []:
                for info in (entry or {}).values():
                    info["logprob"] -= self.by
        self.handler.send_json(status, payload, headers)


def response_logprob(prompt: str, response: str) -> tuple[float, int]:
    """What the first fake gives `response` after the transcript: the sum over the tokens
    that end past the prompt (one across the boundary counts to the response), and their
    number."""
    context = TRANSCRIPT.format(prompt=prompt)
    total, count, at = 0.0, 0, 0
    for token, logprob in prompt_tokens(context + response):
        at += len(token)
        if at > len(context) and logprob is not None:
            total, count = total + logprob, count + 1
    return total, count


def script(fake: Any, judge_prefers: str = "longer") -> None:
    def judge(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        a, b = (text.split(f"({x}) <reply>")[1].split("</reply>")[0] for x in "AB")
        return "A" if (len(a) > len(b)) == (judge_prefers == "longer") else "B"

    fake.script(r"^Below are a user's request", judge)
    for prompt, texts in PAIRS.items():
        fake.script(rf"^{prompt}", lambda body, texts=texts: list(texts))


@pytest.fixture
def reference(bench: Any) -> Iterator[LessSure]:
    with LessSure(BY) as fake:
        yield fake


def prompts(bench: Any) -> Any:
    data = "\n".join(json.dumps({"text": p}) for p in PAIRS).encode()
    return import_seed_set(bench.owner, bench.project, name="Prompts", data=data)


def endpoint(bench: Any, fake: Any) -> Any:
    return project_services.save_endpoint(
        bench.owner, bench.project, name="reference", base_url=fake.base_url,
        chat_model="reference-model", max_concurrency=4,
    )  # fmt: skip


def start(bench: Any, fake_llm: Any, reference: Any = None, **kwargs: Any) -> Any:
    script(fake_llm)
    params = {"beta": BETA, "tau": TAU, **kwargs.pop("params", {})}
    roles = {"reference": endpoint(bench, reference)} if reference is not None else {}
    return bench.start("spa", 2, seed_set=prompts(bench), endpoints=roles, params=params, **kwargs)


def by_prompt(run: Any) -> dict[str, Sample]:
    return {s.messages[0]["content"]: s for s in Sample.objects.filter(run=run)}


def test_the_confidence_is_the_preference_strength_and_tau_maps_onto_it() -> None:
    assert confidence(0.0) == 0.0 and confidence(-2.0) == confidence(2.0)
    assert confidence(2.0) == pytest.approx(2 * preference(2.0) - 1, abs=1e-4)
    assert preference(1e9) == 1.0 and preference(-1e9) == pytest.approx(0.0, abs=1e-12)
    for margin in (0.05, 0.3, 0.49, 0.51, 0.9, 4.0):
        assert (confidence(margin) < review_below(TAU)) == (abs(margin) < TAU)


@pytest.mark.django_db(transaction=True)
def test_two_models_label_each_pair_by_the_larger_implicit_reward_and_flag_small_margins(
    bench: Any, fake_llm: Any, reference: LessSure
) -> None:
    run = start(bench, fake_llm, reference)
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = by_prompt(run)
    assert set(samples) == set(PAIRS)
    for prompt, sample in samples.items():
        meta = sample.extra["metadata"]
        assert meta["labelled_by"] == "implicit_reward"
        assert sample.chosen[0]["content"] == LONG[prompt]
        assert {sample.chosen[0]["content"], sample.rejected[0]["content"]} == set(PAIRS[prompt])
        assert meta["chosen_response"] == PAIRS[prompt].index(LONG[prompt]) + 1
        for side in ("chosen", "rejected"):
            text = getattr(sample, side)[0]["content"]
            aligned, tokens = response_logprob(prompt, text)
            scored = meta["logprobs"][side]
            assert scored["aligned"] == pytest.approx(aligned)
            assert scored["reference"] == pytest.approx(aligned - BY * tokens)
            assert scored["tokens"] == tokens == len(text.split())
            assert meta[f"reward_{side}"] == pytest.approx(BETA * BY * tokens)
        margin = meta["reward_chosen"] - meta["reward_rejected"]
        assert meta["margin"] == pytest.approx(margin)
        assert sample.judge_confidence == pytest.approx(math.tanh(margin / 2), abs=1e-4)
        assert meta["low_confidence"] == (margin < TAU) and meta["tau"] == TAU
        assert ("low_confidence" in sample.extra["tags"]) == meta["low_confidence"]
        verdict = Judgement.objects.get(sample=sample)
        assert verdict.rubric_id == "implicit_reward"
        assert verdict.score == pytest.approx(margin, abs=1e-4)
        assert verdict.judge_model == "fake-model / reference-model"
    assert samples["Name a colour."].extra["metadata"]["margin"] == pytest.approx(0.7)
    assert samples["Name a colour."].extra["metadata"]["low_confidence"] is False
    assert samples["Say hello."].extra["metadata"]["margin"] == pytest.approx(0.1)
    assert samples["Say hello."].extra["metadata"]["low_confidence"] is True
    assert reference.count() == 4  # two responses, two items: each scored once
    assert "judge_fallback_no_plp" not in run.state["kit"].get("notes", {})
    report = type(get_recipe("spa")).report(run)
    assert report["labelled_by_implicit_reward"] == 2 and report["flagged_for_review"] == 1


@pytest.mark.django_db(transaction=True)
def test_with_review_below_tanh_tau_over_2_exactly_the_flagged_pair_goes_to_people(
    bench: Any, fake_llm: Any, reference: LessSure
) -> None:
    run = start(bench, fake_llm, reference, review_below=review_below(TAU))
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = by_prompt(run)
    queue = ReviewQueue.objects.get(feed_run=run)
    queued = set(QueueItem.objects.filter(queue=queue).values_list("sample_id", flat=True))
    assert queued == {samples["Say hello."].pk}
    confident = samples["Name a colour."]
    assert (confident.status, confident.auto_accepted) == ("accepted", True)


@pytest.mark.django_db(transaction=True)
def test_without_prompt_logprobs_the_judge_labels_both_orders_and_the_fallback_is_noted(
    bench: Any, fake_llm: Any
) -> None:
    plain = LessSure(BY, capabilities={"prompt_logprobs": False})
    with plain:
        run = start(bench, fake_llm, plain)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.state["kit"]["notes"]["judge_fallback_no_plp"] == 2
    for prompt, sample in by_prompt(run).items():
        meta = sample.extra["metadata"]
        assert (meta["labelled_by"], meta["judge_because"]) == ("judge", "no_plp")
        assert sample.chosen[0]["content"] == LONG[prompt]  # the judge prefers the longer
        assert len(meta["p_a_orders"]) == 2  # asked in both orders
        assert sample.judge_confidence == 1.0 and meta["low_confidence"] is False
        assert Judgement.objects.get(sample=sample).rubric_id == "compare"
        assert "labelled_by:judge" in sample.extra["tags"]


@pytest.mark.django_db(transaction=True)
def test_one_model_for_both_roles_goes_to_the_judge_without_scoring_anything(
    bench: Any, fake_llm: Any
) -> None:
    run = start(bench, fake_llm)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.state["kit"]["notes"]["judge_fallback_same_model"] == 2
    assert not [r for r in fake_llm.requests if "prompt" in r]  # no /v1/completions call
    metas = [s.extra["metadata"] for s in Sample.objects.filter(run=run)]
    assert {(m["labelled_by"], m["judge_because"]) for m in metas} == {("judge", "same_model")}


@pytest.mark.django_db(transaction=True)
def test_a_judge_whose_orders_disagree_gives_no_label(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r"^Below are a user's request", "A")  # always the first shown: position bias
    run = start(bench, fake_llm, params={"labeler": "judge"}, futility_limit=6)
    assert run.status == RunStatus.FAILED
    assert run.state["kit"].get("notes", {}) == {}
    assert Sample.objects.filter(run=run).count() == 0
    assert run.filtered.get("tie", 0) >= 2


@pytest.mark.django_db(transaction=True)
def test_implicit_reward_required_with_one_model_fails_the_run_with_the_reason(
    bench: Any, fake_llm: Any
) -> None:
    run = start(bench, fake_llm, params={"labeler": "implicit_reward"})
    assert run.status == RunStatus.FAILED
    assert SAME_MODEL in run.last_error
    assert Sample.objects.filter(run=run).count() == 0
