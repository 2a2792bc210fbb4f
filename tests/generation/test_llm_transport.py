"""generation.llm's seams: the transport (the one openai importer) and the Limits it is given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from generation.llm import EndpointConfig, LLMClient, RetryableLLMError
from generation.llm import transport as transport_module
from generation.llm.transport import dumps, uses_proxy
from tests.fakes.openai_server import FakeOpenAI


class RecordingLimits:
    """A `Limits` that lets everything through and writes down what the client asked."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        self.events.append(("slot", 0))
        yield
        self.events.append(("release", 0))

    def slot(self) -> Any:
        return self._slot()

    async def take(self, tokens: int) -> None:
        self.events.append(("take", tokens))

    def settle(self, delta: int) -> None:
        self.events.append(("settle", delta))


def test_a_client_takes_tokens_and_a_slot_from_the_limits_it_is_given(
    fake_llm: FakeOpenAI,
) -> None:
    limits = RecordingLimits()

    async def main() -> Any:
        config = EndpointConfig(base_url=fake_llm.base_url, model="m", max_concurrency=1)
        async with LLMClient(config, limits=limits) as client:
            return await client.complete_text("x" * 40, max_tokens=10)

    result = asyncio.run(main())

    estimate = 40 // 4 + 1 + 10
    used = result.tokens_in + result.tokens_out
    assert limits.events == [
        ("take", estimate),
        ("slot", 0),
        ("release", 0),
        ("settle", used - estimate),
    ]


def test_bodies_are_json_even_where_orjson_refuses_them() -> None:
    assert dumps({"model": "m", "n": 2}) == b'{"model":"m","n":2}'
    assert dumps({1: "int keys"}) == b'{"1": "int keys"}'


def test_a_proxy_in_the_environment_is_noticed() -> None:
    assert uses_proxy({"HTTPS_PROXY": "http://proxy:3128"})
    assert uses_proxy({"http_proxy": "http://proxy:3128"})
    assert not uses_proxy({"NO_PROXY": "localhost"})


def test_with_a_proxy_the_sdk_default_transport_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert transport_module._http_client(5.0) is None
    monkeypatch.delenv("HTTPS_PROXY")
    for name in ("https_proxy", "http_proxy", "all_proxy", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    client = transport_module._http_client(5.0)
    assert client is not None and "Aio" in type(client).__name__


def give_up_message(base_url: str, **config: Any) -> str:
    async def main() -> str:
        endpoint = EndpointConfig(base_url=base_url, model="m", max_retries=0, **config)
        async with LLMClient(endpoint) as client:
            with pytest.raises(RetryableLLMError) as caught:
                await client.complete_text("hi")
        return str(caught.value)

    return asyncio.run(main())


def test_a_refused_connection_reads_as_a_connection_error_not_a_timeout() -> None:
    message = give_up_message("http://127.0.0.1:9/v1")

    assert "Connection error" in message and "ConnectionRefusedError" in message
    assert "timed out" not in message


def test_a_server_that_does_not_answer_in_time_reads_as_a_timeout(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("timeout")

    assert "timed out" in give_up_message(fake_llm.base_url, timeout_s=0.3)


def test_a_dropped_connection_reads_as_a_connection_error(fake_llm: FakeOpenAI) -> None:
    fake_llm.fault("disconnect")

    message = give_up_message(fake_llm.base_url)

    assert "Connection error" in message and "timed out" not in message
