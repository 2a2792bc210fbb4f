"""Toolformer (#43): calls are placed where the model expects "[", and kept only where their
result lowers the loss of the next words by τf; an endpoint that cannot score a given text
is refused at once, with a sentence naming the servers that can.

The fake's prompt logprobs are scripted here (`scripted_logprobs`): " [" is likely after
"is" (0.6) and after "of" (0.2), unlikely (0.01, below τs) anywhere else; " 1.2M" costs 3
nats unless the prefix holds the call's result "→ 1.2M]" (0.1 nats); every other token 1.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.toolformer import REFUSAL
from generation.recipes.toolformer_text import continuations, positions, weighted_loss
from generation.recipes.toolformer_tools import calculate, calendar, read_call, seed_date
from generation.runs.models import RunItem, RunStatus

SENTENCE = "The population of X is 1.2M"
GOOD, USELESS = "What is the population of X?", "What colour is X?"
SETS = itertools.count(1)
P_OPEN = {" is": 0.6, " of": 0.2}  # P(" [") after these words; 0.01 elsewhere


def token_logprob(before: str, token: str) -> float:
    if token == " [":
        last = before.rsplit("\n", 1)[-1]
        return math.log(next((p for w, p in P_OPEN.items() if last.endswith(w)), 0.01))
    if token == " 1.2M":
        return -0.1 if "→ 1.2M]" in before else -3.0
    return -1.0


class _Scripted:
    """The handler, with every echoed prompt token's logprob replaced by token_logprob."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handler, name)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        for choice in payload.get("choices") or []:
            echoed = choice.get("logprobs") or {}
            tokens, values = echoed.get("tokens") or [], echoed.get("token_logprobs") or []
            before = ""
            for i, token in enumerate(tokens):
                if i and values[i] is not None:
                    values[i] = token_logprob(before, token)
                before += token
        self.handler.send_json(status, payload, headers)


def scripted_logprobs(fake: Any) -> None:
    original = fake._text
    fake._text = lambda handler, body, text: original(_Scripted(handler), body, text)


def script(fake: Any) -> None:
    scripted_logprobs(fake)

    def calls(body: dict[str, Any]) -> list[str]:
        n, prompt = int(body.get("n") or 1), str(body.get("prompt") or "")
        if prompt.endswith("X is [QA("):
            return [f"{GOOD})", f"{USELESS})"][:n]
        if prompt.endswith("of [QA("):
            return [f"{GOOD})"] * n
        return [""] * n  # the scoring calls' one generated token

    fake.script(r"Question Answering tool", calls)
    fake.script(r"^Answer the question", lambda b: "1.2M" if "population" in str(b) else "blue")


def corpus(bench: Any, *texts: str) -> Any:
    data = "\n".join(json.dumps({"text": t}) for t in texts).encode()
    return import_seed_set(bench.owner, bench.project, name=f"Corpus {next(SETS)}", data=data)


def start(bench: Any, fake: Any, **params: Any) -> Any:
    script(fake)
    defaults = {"tools": ["qa"], "calls_per_position": 2}
    return bench.start("toolformer", 1, seed_set=corpus(bench, SENTENCE),
                       params={**defaults, **params})  # fmt: skip


def call_prompts(fake: Any) -> list[str]:
    """The prompts that sampled calls (they end with the tool's open call)."""
    return [str(r["prompt"]) for r in fake.requests if str(r.get("prompt", "")).endswith("[QA(")]


@pytest.mark.django_db(transaction=True)
def test_a_call_whose_result_lowers_the_loss_is_inserted_and_a_useless_one_is_rejected(
    bench: Any, fake_llm: Any
) -> None:
    run = start(bench, fake_llm)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.messages[0] == {"role": "user", "content": "The population of X is"}
    assert sample.messages[1]["content"] == f"[QA({GOOD}) → 1.2M] 1.2M"
    meta = sample.extra["metadata"]
    assert meta["annotated"] == f"The population of X is [QA({GOOD}) → 1.2M] 1.2M"
    by_call = {(c["words"], c["call"]): c for c in meta["calls"]}
    good, useless = by_call[(5, f"QA({GOOD})")], by_call[(5, f"QA({USELESS})")]
    # L⁻ = min(3, 3) nats, L⁺ = 0.1 with the result: a drop of 2.9 ≥ τf = 1.
    assert good["kept"] and good["reduction"] == pytest.approx(2.9)
    assert good["loss_plain"] == pytest.approx(3.0)
    assert good["loss_call_only"] == pytest.approx(3.0)
    # The useless call's result ("blue") leaves the loss where it was.
    assert not useless["kept"] and useless["reduction"] == pytest.approx(0.0)
    assert useless["result"] == "blue"
    # After "of", the good call helps " 1.2M" too, but that word is the third one (weight
    # 0.6 of 2.4): 0.725 < τf, rejected.
    after_of = by_call[(3, f"QA({GOOD})")]
    assert not after_of["kept"] and after_of["reduction"] == pytest.approx(2.9 * 0.6 / 2.4)
    assert run.filtered == {"useless_call": 2}
    assert RunItem.objects.get(run=run).outcome == "produced"
    assert "tool:qa" in sample.extra["tags"]


@pytest.mark.django_db(transaction=True)
def test_positions_below_tau_s_are_never_sampled(bench: Any, fake_llm: Any) -> None:
    run = start(bench, fake_llm)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sampled = {re.sub(r" \[QA\($", "", p).rsplit("Output: ", 1)[1] for p in call_prompts(fake_llm)}
    assert sampled == {"The population of X is", "The population of"}
    meta = Sample.objects.get(run=run).extra["metadata"]
    kept = {(s["words"], s["p_open"]) for s in meta["positions"] if s["kept"]}
    assert kept == {(5, 0.6), (3, 0.2)}
    assert {s["p_open"] for s in meta["positions"] if not s["kept"]} == {0.01}


@pytest.mark.django_db(transaction=True)
def test_a_higher_tau_s_leaves_only_the_likelier_position_and_k_caps_them(
    bench: Any, fake_llm: Any
) -> None:
    run = start(bench, fake_llm, top_k=1)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert {p.rsplit(" ", 2)[-2] for p in call_prompts(fake_llm)} == {"is"}
    fake_llm.requests.clear()
    run = start(bench, fake_llm, tau_s=0.7)
    assert run.filtered == {"no_position_above_tau_s": 1}
    assert call_prompts(fake_llm) == []


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_without_prompt_logprobs_is_refused_at_the_first_item_with_the_reason(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.disable("prompt_logprobs")
    run = start(bench, fake_llm)
    assert run.status == RunStatus.FAILED
    assert REFUSAL in run.last_error
    assert "cannot score a given text" in run.last_error and "vLLM" in run.last_error
    assert Sample.objects.filter(run=run).count() == 0
    assert call_prompts(fake_llm) == []  # refused before any call was sampled


def test_the_calculator_does_arithmetic_only_rounded_to_two_decimals() -> None:
    assert calculate("400 / 1400") == "0.29"
    assert calculate("1,300 + 700") == "2000"
    assert calculate("2 × (3 + 4)") == "14"
    for bad in ("__import__('os')", "2 ** 100", "1 / 0", "9" * 20, "abs(-1)"):
        assert calculate(bad) is None, bad
    assert read_call("calculator", "400/1400) ") is not None
    assert read_call("calculator", "open('x')) ") is None
    assert read_call("qa", "no closing parenthesis") is None


def test_the_calendar_answers_with_the_texts_date_else_the_runs_day() -> None:
    day = seed_date({"meta": {"date": "2023-01-30T10:00"}}, "2020-05-05")
    assert day is not None and calendar(day) == "Today is Monday, January 30, 2023."
    assert str(seed_date({}, "2020-05-05")) == "2020-05-05"
    assert seed_date({}, "") is None


def test_the_next_words_are_weighted_one_point_eight_point_six_and_so_on() -> None:
    at = positions(SENTENCE + " people in 2020 and more")[1]
    assert continuations(SENTENCE + " people", at, 5) == [
        " of", " of X", " of X is", " of X is 1.2M", " of X is 1.2M people",
    ]  # fmt: skip
    # Per-word logprobs −1, −2, 0, 0, 0: (1·1 + 0.8·2) / 3.
    assert weighted_loss([-1.0, -3.0, -3.0, -3.0, -3.0], 0.2) == pytest.approx(2.6 / 3)


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_known_to_lack_prompt_logprobs_is_refused_before_the_run_starts(
    bench: Any, fake_llm: Any
) -> None:
    bench.endpoint.capabilities = {"prompt_logprobs": False}
    bench.endpoint.save()
    with pytest.raises(ServiceError, match=r"Toolformer needs PLP .* \(prompt_logprobs\)"):
        start(bench, fake_llm)
    assert fake_llm.requests == []
