"""Scoring a given text (PLP), probing what an endpoint can do, and matching recipes' needs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from generation.capabilities import (
    CAPABILITIES,
    NEED_CODES,
    Capabilities,
    NeedsCheck,
    check_needs,
    missing_needs,
    probe_capabilities,
)
from generation.llm import (
    CallRecord,
    CapabilityError,
    EndpointConfig,
    LLMClient,
    ScoredToken,
    TextScore,
)
from generation.llm_score import NotAligned, parse_echo, parse_prompt_logprobs
from tests.fakes.openai_server import FakeOpenAI, prompt_tokens

T = TypeVar("T")


def run(
    fake: FakeOpenAI,
    use: Callable[[LLMClient], Awaitable[T]],
    records: list[CallRecord] | None = None,
    **config: Any,
) -> T:
    async def main() -> T:
        options = {"max_retries": 0, **config}
        recorder = records.append if records is not None else None
        config_ = EndpointConfig(fake.base_url, model="m", **options)
        async with LLMClient(config_, recorder=recorder) as client:
            return await use(client)

    return asyncio.run(main())


def score(prompt: str, continuation: str = "") -> Callable[[LLMClient], Awaitable[TextScore]]:
    return lambda client: client.score_text(prompt, continuation)


def expected(text: str) -> list[ScoredToken]:
    return [ScoredToken(token, logprob) for token, logprob in prompt_tokens(text)]


# -- score_text ----------------------------------------------------------------------------------


def test_score_text_sums_the_logprobs_of_the_continuation_via_echo(fake_llm: FakeOpenAI) -> None:
    records: list[CallRecord] = []

    got = run(fake_llm, score("The sky is", " blue today."), records)

    tokens = expected("The sky is blue today.")
    assert [t.token for t in tokens] == ["The", " sky", " is", " blue", " today."]
    assert got.tokens == tokens  # the generated token is left out
    assert (got.continuation_start, got.count, got.method) == (3, 2, "echo")
    values = [t.logprob or 0.0 for t in tokens[3:]]
    assert got.sum_logprob == pytest.approx(sum(values))
    assert got.mean_logprob == pytest.approx(sum(values) / 2)
    assert [t.token for t in got.scored] == [" blue", " today."]
    sent = fake_llm.requests[-1]
    assert (sent["echo"], sent["logprobs"], sent["max_tokens"]) == (True, 1, 1)
    assert [(r.purpose, r.ok, r.tokens_in > 0) for r in records] == [("score", True, True)]


def test_without_a_continuation_the_whole_text_is_scored(fake_llm: FakeOpenAI) -> None:
    got = run(fake_llm, score("Bees pollinate crops."))

    values = [t.logprob for t in expected("Bees pollinate crops.")[1:]]
    assert (got.continuation_start, got.count) == (0, 2)  # the first token has no context
    assert got.sum_logprob == pytest.approx(sum(v or 0.0 for v in values))


def test_a_server_that_refuses_echo_is_scored_through_vllms_prompt_logprobs_and_remembered(
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.disable("echo")

    async def twice(client: LLMClient) -> tuple[TextScore, TextScore, int]:
        first = await client.score_text("The sky is", " blue today.")
        requests = len(fake_llm.requests)
        return first, await client.score_text("Grass is", " green."), requests

    first, second, requests = run(fake_llm, twice)

    assert (first.method, second.method) == ("prompt_logprobs", "prompt_logprobs")
    assert first.tokens == expected("The sky is blue today.")
    assert first.continuation_start == 3
    assert len(fake_llm.requests) == requests + 1  # echo is not tried again
    assert fake_llm.requests[-1]["prompt_logprobs"] == 0


def test_score_text_on_a_server_without_plp_raises_a_clear_capability_error(
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.disable("prompt_logprobs")
    records: list[CallRecord] = []

    async def twice(client: LLMClient) -> tuple[str, str, int]:
        with pytest.raises(CapabilityError) as first:
            await client.score_text("The sky is", " blue.")
        requests = len(fake_llm.requests)
        with pytest.raises(CapabilityError) as again:
            await client.score_text("Grass is", " green.")
        return str(first.value), str(again.value), requests

    first, again, requests = run(fake_llm, twice, records)

    assert first.startswith("this endpoint does not return logprobs of a given text (PLP)")
    assert "echo: HTTP 400" in first and "prompt_logprobs: the reply has no logprobs" in first
    assert "PLP" in again and len(fake_llm.requests) == requests == 2
    assert [r.ok for r in records] == [False]  # the second call asked nothing of the server


def test_a_server_without_completions_has_no_plp_either(fake_llm: FakeOpenAI) -> None:
    fake_llm.disable("completions")

    with pytest.raises(CapabilityError, match=r"\(PLP\).*HTTP 404"):
        run(fake_llm, score("The sky is", " blue."))


def test_a_reply_that_ignored_echo_is_not_mistaken_for_a_score() -> None:
    reply = {
        "choices": [{"text": "Hello", "logprobs": {"tokens": ["Hello"], "token_logprobs": [-0.5]}}]
    }

    assert parse_echo(reply, "Hello", "Hello") is None  # the text is the generated one only


def test_tokens_that_lost_their_spaces_or_carry_a_bos_marker_still_line_up() -> None:
    reply = {
        "choices": [
            {
                "text": "The sky is blue!",
                "logprobs": {
                    "tokens": ["<s>", "The", "sky", "is", "blue", "!"],
                    "token_logprobs": [None, -1.0, -2.0, -3.0, -4.0, -5.0],
                },
            }
        ]
    }

    got = parse_echo(reply, "The sky is", " blue")

    assert got is not None
    assert [t.token for t in got.tokens] == ["The", "sky", "is", "blue"]
    assert got.continuation_start == 3


def test_prompt_logprobs_pick_the_prompt_token_by_id_when_the_server_gives_ids() -> None:
    entries = [
        None,
        {
            "7": {"logprob": -9.0, "decoded_token": " alt"},
            "5": {"logprob": -1.5, "decoded_token": " b"},
        },
    ]
    reply = {"choices": [{"text": "", "prompt_logprobs": entries, "prompt_token_ids": [1, 5]}]}

    got = parse_prompt_logprobs(reply, "a", " b")

    assert got is not None
    assert got.tokens == [ScoredToken("a", None), ScoredToken(" b", -1.5)]
    assert got.continuation_start == 1


def test_tokens_that_do_not_spell_the_text_are_an_error_not_a_wrong_score() -> None:
    logprobs = {"tokens": ["x", "y"], "token_logprobs": [None, -1.0]}
    reply = {"choices": [{"text": "abc", "logprobs": logprobs}]}

    with pytest.raises(NotAligned):
        parse_echo(reply, "abc", "")


# -- probe_capabilities ----------------------------------------------------------------------


def probe(fake: FakeOpenAI, **options: Any) -> Capabilities:
    return run(fake, lambda client: probe_capabilities(client, **options))


def flags(caps: Capabilities) -> dict[str, bool | None]:
    return {name: getattr(caps, name) for name in CAPABILITIES}


def test_a_full_featured_endpoint_reports_every_capability(fake_llm: FakeOpenAI) -> None:
    caps = probe(fake_llm)

    assert flags(caps) == dict.fromkeys(CAPABILITIES, True)
    assert (caps.models, caps.errors) == (["fake-model"], {})
    assert caps.checked_at is not None and caps.checked_at.tzinfo is UTC
    chat_probes = [r for r in fake_llm.requests if "messages" in r]
    assert all(r["max_tokens"] <= 5 for r in chat_probes)


@pytest.mark.parametrize(
    ("off", "expected_off"),
    [
        ("n", {"n"}),
        ("logprobs", {"logprobs"}),  # PLP then goes through prompt_logprobs, which has none
        ("prompt_logprobs", {"prompt_logprobs"}),
        ("json_schema", {"json_schema"}),
        ("tools", {"tools"}),
        ("embeddings", {"embeddings"}),
        ("echo", set()),  # prompt_logprobs still answers
        # PLP is asked of /v1/completions; every other probe but embeddings is a chat request.
        ("completions", {"completions", "prompt_logprobs"}),
        ("chat", {"chat", "n", "logprobs", "json_schema", "tools"}),
    ],
)
def test_an_endpoint_without_a_capability_reports_exactly_that_as_false(
    off: str, expected_off: set[str]
) -> None:
    with FakeOpenAI(capabilities={off: False}) as fake:
        caps = probe(fake)

    assert {name for name, value in flags(caps).items() if value is not True} == expected_off
    assert all(value is False for name, value in flags(caps).items() if name in expected_off)
    assert set(caps.errors) == expected_off


def test_a_probe_that_gets_only_server_errors_learns_nothing(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("500", times=-1)

    caps = probe(fake_llm)

    assert flags(caps) == dict.fromkeys(CAPABILITIES)
    assert "HTTP 500" in caps.errors["chat"] and caps.models == ["fake-model"]


def test_probing_a_slow_endpoint_ends_at_the_timeout_with_nothing_learned() -> None:
    with FakeOpenAI(latency=5) as fake:
        started = time.monotonic()
        caps = probe(fake, timeout_s=0.5)
        elapsed = time.monotonic() - started

    assert elapsed < 3
    assert flags(caps) == dict.fromkeys(CAPABILITIES)
    assert caps.errors["tools"] == "no answer within 0.5 s"


def test_capabilities_survive_a_json_round_trip() -> None:
    caps = Capabilities(
        chat=True,
        n=False,
        models=["a"],
        errors={"n": "asked for 2 choices, got 1"},
        checked_at=datetime(2025, 1, 2, tzinfo=UTC),
    )

    assert Capabilities.from_dict(caps.as_dict()) == caps
    assert Capabilities.from_dict({"chat": "yes", "checked_at": "garbage"}) == Capabilities()


# -- needs ----------------------------------------------------------------------------------------


def test_needs_the_endpoint_lacks_are_missing_and_unprobed_ones_unknown() -> None:
    caps = {"n": True, "logprobs": False, "embeddings": None}

    checked = check_needs({"N", "LP", "PLP", "EMB", "SBX", "MM", "ENV"}, caps)

    assert checked == NeedsCheck(missing=["LP"], unknown=["EMB", "PLP"])
    assert not checked.ok
    assert missing_needs({"N", "LP"}, caps) == ["LP"]


def test_needs_beyond_the_endpoint_are_not_its_concern() -> None:
    assert check_needs({"SBX", "RT", "ENV", "MM", "VLM", "FT"}, None).ok
    assert set(NEED_CODES.values()) <= set(CAPABILITIES)


def test_a_probed_endpoint_meets_the_needs_it_has(fake_llm: FakeOpenAI) -> None:
    fake_llm.disable("tools")
    caps = probe(fake_llm)

    assert check_needs({"N", "LP", "PLP", "EMB"}, caps).ok
    assert check_needs({"tools", "N"}, caps) == NeedsCheck(missing=["tools"], unknown=[])
