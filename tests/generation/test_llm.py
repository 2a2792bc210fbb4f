"""generation.llm against the fake OpenAI-compatible server on loopback.

Backoff and rate-limit waits go through an injected fake sleep that advances a fake clock, so
the tests assert on the waits the client chose without spending them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest

from generation.llm import (
    CallRecord,
    EndpointConfig,
    LLMClient,
    PermanentLLMError,
    RetryableLLMError,
    StructuredOutputError,
    _retry_after,
    n_limit,
)
from tests.fakes.openai_server import FakeOpenAI

T = TypeVar("T")

SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["good", "bad"]}, "score": {"type": "integer"}},
    "required": ["label", "score"],
    "additionalProperties": False,
}


@dataclass
class FakeTime:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Harness:
    fake: FakeOpenAI
    time: FakeTime = field(default_factory=FakeTime)
    records: list[CallRecord] = field(default_factory=list)

    def client(self, **config: Any) -> LLMClient:
        return LLMClient(
            EndpointConfig(base_url=self.fake.base_url, model="m", **config),
            recorder=self.records.append,
            sleep=self.time.sleep,
            clock=self.time.clock,
        )

    def run(self, use: Callable[[LLMClient], Awaitable[T]], **config: Any) -> T:
        async def main() -> T:
            async with self.client(**config) as client:
                return await use(client)

        return asyncio.run(main())


@pytest.fixture
def h(fake_llm: FakeOpenAI) -> Harness:
    return Harness(fake_llm)


@pytest.fixture
def make_harness() -> Iterator[Callable[..., Harness]]:
    started: list[FakeOpenAI] = []

    def make(**options: Any) -> Harness:
        fake = FakeOpenAI(**options)
        fake.start()
        started.append(fake)
        return Harness(fake)

    yield make
    for fake in started:
        fake.stop()


def ask(text: str, **kwargs: Any) -> Callable[[LLMClient], Awaitable[Any]]:
    return lambda client: client.complete([{"role": "user", "content": text}], **kwargs)


# -- plain calls and accounting ------------------------------------------------------------


def test_a_completion_returns_text_usage_and_records_one_ok_call(h: Harness) -> None:
    result = h.run(ask("x" * 40, purpose="test"), endpoint_id=7)

    assert result.texts[0].startswith("Answer ")
    assert result.finish_reasons == ["stop"]
    assert (result.tokens_in, result.attempts, result.model) == (11, 1, "m")
    assert result.parsed is None and result.logprobs is None
    [record] = h.records
    assert (record.ok, record.purpose, record.endpoint_id, record.error) == (True, "test", 7, "")
    assert (record.tokens_in, record.tokens_out) == (result.tokens_in, result.tokens_out)


def test_cost_is_tokens_per_thousand_times_the_prices(h: Harness) -> None:
    prices = {"price_in_per_1k": Decimal("0.5"), "price_out_per_1k": Decimal("1.5")}

    result = h.run(ask("x" * 4000), **prices)

    expected = Decimal(1001) / 1000 * Decimal("0.5") + Decimal(5) / 1000 * Decimal("1.5")
    assert (result.tokens_in, result.tokens_out) == (1001, 5)
    assert result.cost == expected == h.records[0].cost


def test_sampling_options_are_sent_only_when_given(h: Harness) -> None:
    h.run(ask("a", temperature=0.7, max_tokens=20, stop=["\n"], seed=3))
    h.run(ask("b"))

    first, second = h.fake.requests
    assert (first["temperature"], first["max_tokens"], first["stop"], first["seed"]) == (
        0.7,
        20,
        ["\n"],
        3,
    )
    assert not {"temperature", "max_tokens", "stop", "seed", "n", "logprobs"} & set(second)


# -- retries -------------------------------------------------------------------------------


def test_a_429_is_retried_no_sooner_than_retry_after(h: Harness) -> None:
    h.fake.fault("429", retry_after=7)

    result = h.run(ask("hi"))

    assert result.attempts == 2
    assert len(h.time.sleeps) == 1 and h.time.sleeps[0] >= 7
    assert h.records[0].attempts == 2 and h.records[0].ok


def test_retry_after_is_read_in_seconds_milliseconds_and_http_dates() -> None:
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)

    assert _retry_after(httpx.Headers({"retry-after": "2.5"})) == 2.5
    assert _retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert 8 < (_retry_after(httpx.Headers({"retry-after": in_ten})) or 0) <= 10
    assert _retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert _retry_after(httpx.Headers({})) is None


def test_server_errors_are_retried_with_growing_jittered_backoff(h: Harness) -> None:
    h.fake.fault("500", times=2)

    result = h.run(ask("hi"))

    assert result.attempts == 3 and h.fake.count() == 3
    assert len(h.time.sleeps) == 2
    assert 0 <= h.time.sleeps[0] <= 0.5 and 0 <= h.time.sleeps[1] <= 1.0


def test_exhausted_retries_raise_and_record_exactly_one_failed_call(h: Harness) -> None:
    h.fake.fault("503", times=-1)

    with pytest.raises(RetryableLLMError, match=r"4 attempts.*HTTP 503"):
        h.run(ask("hi"), max_retries=3)

    assert h.fake.count() == 4
    [record] = h.records
    assert (record.ok, record.attempts) == (False, 4)
    assert "RetryableLLMError" in record.error


def test_a_timed_out_request_is_retried(h: Harness) -> None:
    h.fake.fault("timeout")

    result = h.run(ask("hi"), timeout_s=0.3)

    assert result.attempts == 2 and h.records[0].ok


def test_a_dropped_connection_is_retried(h: Harness) -> None:
    h.fake.fault("disconnect")

    assert h.run(ask("hi")).attempts == 2


def test_a_malformed_body_is_retried(h: Harness) -> None:
    h.fake.fault("malformed", times=2)

    assert h.run(ask("hi")).attempts == 3


def test_a_bad_request_fails_at_once_with_the_servers_message(h: Harness) -> None:
    h.fake.fault("400")

    with pytest.raises(PermanentLLMError, match=r"HTTP 400.*fake 400") as caught:
        h.run(ask("hi"))

    assert caught.value.status_code == 400
    assert h.fake.count() == 1 and h.time.sleeps == []
    assert [(r.ok, r.attempts) for r in h.records] == [(False, 1)]


# -- structured output ---------------------------------------------------------------------


def test_structured_output_uses_json_schema_and_is_parsed(h: Harness) -> None:
    h.fake.script("rate", '{"label": "good", "score": 4}', json=True)

    result = h.run(ask("rate this", json_schema=SCHEMA, schema_name="rating"))

    assert result.parsed == [{"label": "good", "score": 4}]
    response_format = h.fake.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"] == {"name": "rating", "schema": SCHEMA, "strict": True}


def test_without_json_schema_support_it_falls_back_to_json_object_and_remembers(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(support_json_schema=False)
    messages = [{"role": "system", "content": "You rate."}, {"role": "user", "content": "rate"}]

    async def twice(client: LLMClient) -> list[Any]:
        first = await client.complete(messages, json_schema=SCHEMA)
        second = await client.complete(messages, json_schema=SCHEMA)
        return [first.parsed, second.parsed, client.structured_mode]

    first, second, mode = h.run(twice)

    assert first == second == [{"label": "good", "score": 1}]
    assert mode == "json_object"
    kinds = [r["response_format"]["type"] for r in h.fake.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]
    system = h.fake.requests[1]["messages"][0]["content"]
    assert system.startswith("You rate.") and json.dumps(SCHEMA) in system
    assert messages[0]["content"] == "You rate."  # the caller's messages are untouched
    assert [r.ok for r in h.records] == [True, True]


def test_without_any_json_mode_the_schema_goes_in_the_prompt(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(support_json_schema=False, support_json_object=False)
    h.fake.script("rate", 'Here you go:\n```json\n{"label": "bad", "score": 2}\n```')

    result = h.run(ask("rate", json_schema=SCHEMA))

    assert result.parsed == [{"label": "bad", "score": 2}]
    assert "response_format" not in h.fake.requests[-1]
    assert h.fake.count() == 3


def test_invalid_json_gets_one_repair_and_then_succeeds(h: Harness) -> None:
    h.fake.fault("bad_json_content")

    result = h.run(ask("rate", json_schema=SCHEMA))

    assert result.parsed == [{"label": "good", "score": 1}]
    assert json.loads(result.texts[0]) == result.parsed[0]
    repair = h.fake.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "oops" in repair[-2]["content"]
    assert "not valid JSON" in repair[-1]["content"]
    assert result.attempts == 2 and len(h.records) == 1


def test_a_schema_violation_is_repaired_too(h: Harness) -> None:
    h.fake.script("rate", lambda body: {"label": "meh", "score": 1}, json=True)
    h.fake.script("not acceptable", lambda body: {"label": "bad", "score": 1}, json=True)

    result = h.run(ask("rate", json_schema=SCHEMA))

    assert result.parsed == [{"label": "bad", "score": 1}]
    assert "label" in h.fake.requests[1]["messages"][-1]["content"]


def test_output_that_stays_invalid_raises_structured_output_error(h: Harness) -> None:
    h.fake.fault("bad_json_content", times=-1)

    with pytest.raises(StructuredOutputError, match="after one repair"):
        h.run(ask("rate", json_schema=SCHEMA))

    assert h.fake.count() == 2
    assert [(r.ok, r.attempts) for r in h.records] == [(False, 2)]


def test_an_unrelated_400_after_json_schema_worked_does_not_downgrade(h: Harness) -> None:
    async def twice(client: LLMClient) -> str:
        await client.complete([{"role": "user", "content": "a"}], json_schema=SCHEMA)
        h.fake.fault("400")
        with pytest.raises(PermanentLLMError):
            await client.complete([{"role": "user", "content": "b"}], json_schema=SCHEMA)
        return client.structured_mode

    assert h.run(twice) == "json_schema"
    assert h.fake.count() == 2


# -- n, logprobs, embeddings -----------------------------------------------------------------


def test_three_choices_come_from_one_request_when_n_is_supported(h: Harness) -> None:
    result = h.run(ask("ideas", n=3))

    assert len(set(result.texts)) == 3
    assert h.fake.count() == 1 and h.fake.requests[0]["n"] == 3


def test_without_n_support_the_rest_are_filled_by_parallel_single_calls(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(support_n=False, latency=0.05)

    async def twice(client: LLMClient) -> list[Any]:
        first = await client.complete([{"role": "user", "content": "ideas"}], n=3, seed=10)
        second = await client.complete([{"role": "user", "content": "more"}], n=2)
        return [first, second, client.supports_n]

    first, second, supports_n = h.run(twice)

    assert len(first.texts) == 3 and len(set(first.texts)) == 3
    assert sorted(r["seed"] for r in h.fake.requests[:3]) == [10, 11, 12]
    assert first.tokens_in == 3 * (len("ideas") // 4 + 1)
    assert len(second.texts) == 2 and supports_n is False
    assert ["n" in r for r in h.fake.requests[3:]] == [False, False]
    assert h.fake.max_in_flight == 2  # the fill-in calls overlap


def test_a_server_that_caps_n_gets_several_requests_of_at_most_its_limit(h: Harness) -> None:
    h.fake.max_n = 4

    async def twice(client: LLMClient) -> list[Any]:
        first = await client.complete([{"role": "user", "content": "ideas"}], n=10, seed=5)
        second = await client.complete([{"role": "user", "content": "more"}], n=8)
        return [first, second, client.max_n]

    first, second, max_n = h.run(twice)

    assert len(first.texts) == 10 and len(set(first.texts)) == 10
    assert max_n == 4 and len(second.texts) == 8
    refused, *sent = [r.get("n", 1) for r in h.fake.requests]
    assert refused == 10 and sorted(sent) == [2, 4, 4, 4, 4]  # learnt once, then split
    assert sorted(r["seed"] for r in h.fake.requests[1:4]) == [5, 6, 7]


def test_the_limit_is_read_from_the_servers_refusal() -> None:
    assert n_limit("HTTP 400: Field 'n': Value must be between 1 <= value <= 4, but got 8") == 4
    assert n_limit("'n' must be less than or equal to 128") == 128
    assert n_limit("Unknown model 'gpt-9'") is None


def test_logprobs_are_passed_through_per_choice(h: Harness) -> None:
    result = h.run(ask("hi", n=2, logprobs=True, top_logprobs=3))

    assert h.fake.requests[0]["logprobs"] is True and h.fake.requests[0]["top_logprobs"] == 3
    assert result.logprobs is not None and len(result.logprobs) == 2
    for text, tokens in zip(result.texts, result.logprobs, strict=True):
        assert "".join(t.token for t in tokens) == text
        assert all(len(t.top) == 3 and t.top[t.token] == t.logprob for t in tokens)


def test_embeddings_come_back_in_input_order_in_batches_of_256(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(embedding_dim=8)
    texts = [f"text {i}" for i in range(600)]

    async def both(client: LLMClient) -> tuple[list[list[float]], list[list[float]]]:
        return await client.embed(texts), await client.embed([texts[599], texts[0]])

    vectors, pair = h.run(both)

    # The batches may go out in parallel, so they arrive in any order.
    assert sorted(len(r["input"]) for r in h.fake.requests[:3]) == [88, 256, 256]
    assert len(vectors) == 600 and len(vectors[0]) == 8
    assert pair == [vectors[599], vectors[0]]
    assert [(r.purpose, r.ok, r.attempts) for r in h.records] == [
        ("embed", True, 3),
        ("embed", True, 1),
    ]


# -- limits ------------------------------------------------------------------------------------


def test_no_more_requests_are_in_flight_than_max_concurrency(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(latency=0.05, hold_until_in_flight=3)

    async def ten(client: LLMClient) -> list[Any]:
        calls = [client.complete([{"role": "user", "content": f"q{i}"}]) for i in range(10)]
        return list(await asyncio.gather(*calls))

    results = h.run(ten, max_concurrency=3)

    assert len(results) == 10 and len(h.records) == 10
    assert h.fake.max_in_flight == 3


def test_the_rpm_bucket_spaces_requests_beyond_the_burst(h: Harness) -> None:
    async def four(client: LLMClient) -> None:
        for i in range(4):
            await client.complete([{"role": "user", "content": f"q{i}"}])

    h.run(four, rpm=2)

    assert h.time.sleeps == [pytest.approx(30), pytest.approx(30)]


def test_the_tpm_bucket_waits_for_the_tokens_a_prompt_needs(h: Harness) -> None:
    async def two(client: LLMClient) -> None:
        for i in range(2):
            await client.complete([{"role": "user", "content": f"{i}" * 200}])

    h.run(two, tpm=60)

    # 60 tokens/min: the first call takes 51 (estimate) + 5 (settled on usage), leaving 4;
    # the second needs 51, so waits 47 tokens' worth of refill at one token per second.
    assert h.time.sleeps == [pytest.approx(47)]


def test_the_recorder_hears_once_per_logical_call_whatever_happened(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(support_n=False)
    h.fake.fault("bad_json_content", pattern="judge")
    h.fake.fault("400", pattern="broken")

    async def mixed(client: LLMClient) -> None:
        await client.complete([{"role": "user", "content": "ideas"}], n=4)
        await client.complete([{"role": "user", "content": "judge"}], json_schema=SCHEMA)
        with pytest.raises(PermanentLLMError):
            await client.complete([{"role": "user", "content": "broken"}])
        await client.embed(["a", "b"])

    h.run(mixed)

    assert [(r.purpose, r.ok, r.attempts) for r in h.records] == [
        ("generate", True, 4),
        ("generate", True, 2),
        ("generate", False, 1),
        ("embed", True, 1),
    ]


def test_a_cancelled_call_is_still_recorded_once(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(latency=5)

    async def cancel_midway(client: LLMClient) -> None:
        task = asyncio.ensure_future(client.complete([{"role": "user", "content": "slow"}]))
        deadline = time.monotonic() + 5
        while h.fake.in_flight == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    h.run(cancel_midway)

    assert [(r.ok, r.attempts, r.error) for r in h.records] == [(False, 1, "CancelledError()")]


def test_sixty_four_calls_are_in_flight_at_once_when_the_limit_allows(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(latency=0.2, hold_until_in_flight=64)

    async def many(client: LLMClient) -> float:
        started = time.monotonic()
        await asyncio.gather(
            *(client.complete([{"role": "user", "content": f"q{i}"}]) for i in range(64))
        )
        return time.monotonic() - started

    elapsed = h.run(many, max_concurrency=64)

    # Timings belong in bench/; what matters here is that nothing serialises the calls.
    assert h.fake.max_in_flight == 64
    assert elapsed > 0
