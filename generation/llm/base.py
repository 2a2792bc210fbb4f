"""What every call of `LLMClient` shares: the limits, the retry loop, reading usage, records.

One logical call (a `Call`) may make several requests: retries, `n` split into parts, a
structured-output repair. Each request takes the endpoint's limits, is retried on transient
failures only (429, 408, 409, 5xx, no answer, a malformed 200) with full-jitter backoff, and
adds its usage to the call; the call ends in one `CallRecord`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Self, TypeVar

import orjson

from generation.llm.errors import PermanentLLMError, RetryableLLMError, clip
from generation.llm.limits import InProcessLimits, Limits
from generation.llm.records import Call, CallRecord, Completion, EndpointConfig
from generation.llm.structured import Mode
from generation.llm.transport import ConnectionFailure, StatusFailure, Transport
from generation.llm_parse import Choices, Malformed, TokenLogprob
from generation.llm_score import ScoreMethod

T = TypeVar("T")

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
# A server that asks for a longer pause gets a RetryableLLMError at once, so the task that
# drives the run can re-enqueue itself instead of holding a worker.
MAX_RETRY_AFTER_S = 120.0
_RETRYABLE_STATUS = frozenset({408, 409, 429})


class ClientBase:
    def __init__(
        self,
        config: EndpointConfig,
        *,
        recorder: Callable[[CallRecord], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        limits: Limits | None = None,
    ) -> None:
        self.config = config
        self._recorder = recorder
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._transport = Transport(config.base_url, config.api_key, config.timeout_s)
        self._limits: Limits = limits or InProcessLimits(
            config.max_concurrency, config.rpm, config.tpm, clock=clock, sleep=sleep
        )
        # Learned about the server as we go; shared by every call on this client.
        self.supports_n = True
        self.max_n: int | None = None  # the most choices per request, once a server says so
        self.structured_mode: Mode = "json_schema"
        self._confirmed_modes: set[Mode] = set()
        self.score_method: ScoreMethod | None = None  # how this server scores a given text
        self.supports_score = True
        # "native": tools go to the server; "prompt": in the system message (llm_tool_prompt),
        # learnt from a server that refuses `tools`, or set where "Test connection" found none.
        self.tools_mode = "native"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _request(
        self,
        call: Call,
        path: str,
        body: dict[str, Any] | None,
        parse: Callable[[dict[str, Any]], T],
        estimate: int,
        max_retries: int | None = None,
    ) -> T:
        """One HTTP request (a GET when there is no body) with retries for transient failures."""
        retries = self.config.max_retries if max_retries is None else max_retries
        first_attempt = call.attempts + 1
        last_error = ""
        for attempt in range(1, retries + 2):
            await self._limits.take(estimate)
            call.attempts += 1
            retry_after: float | None = None
            try:
                async with self._limits.slot():
                    if body is None:
                        raw = await self._transport.get(path)
                    else:
                        raw = await self._transport.post(path, body)
            except StatusFailure as exc:
                if exc.status_code not in _RETRYABLE_STATUS and exc.status_code < 500:
                    raise PermanentLLMError(str(exc), status_code=exc.status_code) from exc
                last_error, retry_after = str(exc), exc.retry_after
            except ConnectionFailure as exc:
                last_error = str(exc)
            else:
                try:
                    return self._accept(call, raw, parse, estimate)
                except ValueError as exc:  # Malformed, or a body that is not JSON at all
                    last_error = f"malformed response: {clip(str(exc))}"
            tried = call.attempts - first_attempt + 1
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                raise RetryableLLMError(
                    f"server asked to wait {retry_after:.0f} s after {tried} attempts: {last_error}"
                )
            if attempt > retries:
                break
            delay = self._rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
            await self._sleep(max(delay, retry_after or 0.0))
        raise RetryableLLMError(f"gave up after {tried} attempts: {last_error}")

    def _accept(
        self, call: Call, raw: bytes, parse: Callable[[dict[str, Any]], T], estimate: int
    ) -> T:
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise Malformed("the body is not a JSON object")
        raw_usage = data.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        tokens_in = _int(usage.get("prompt_tokens"))
        tokens_out = _int(usage.get("completion_tokens"))
        call.tokens_in += tokens_in  # billed even if the rest of the body is broken
        call.tokens_out += tokens_out
        if usage:
            self._limits.settle(tokens_in + tokens_out - estimate)
        result = parse(data)
        if isinstance(data.get("model"), str) and not call.served_model:
            call.served_model = data["model"]
        return result

    def _completion(
        self,
        call: Call,
        purpose: str,
        started: float,
        choices: Choices,
        parsed: list[Any] | None,
        logprobs: list[list[TokenLogprob]] | None,
    ) -> Completion:
        """Record the successful call and package what it returned."""
        cost, latency_ms = self._record(call, purpose, started, None)
        return Completion(
            texts=choices.texts,
            finish_reasons=choices.finish_reasons,
            parsed=parsed,
            logprobs=logprobs,
            model=call.served_model or call.model,
            tokens_in=call.tokens_in,
            tokens_out=call.tokens_out,
            cost=cost,
            latency_ms=latency_ms,
            attempts=call.attempts,
            tool_calls=choices.tool_calls or [[] for _ in choices.texts],
        )

    def _record(
        self, call: Call, purpose: str, started: float, error: BaseException | None
    ) -> tuple[Decimal, int]:
        config = self.config
        cost = (
            Decimal(call.tokens_in) / 1000 * config.price_in_per_1k
            + Decimal(call.tokens_out) / 1000 * config.price_out_per_1k
        )
        latency_ms = int((time.perf_counter() - started) * 1000)
        if self._recorder is not None:
            described = ""
            if error is not None:
                described = f"{type(error).__name__}: {error}" if str(error) else repr(error)
            self._recorder(
                CallRecord(
                    endpoint_id=config.endpoint_id,
                    model=call.served_model or call.model,
                    purpose=purpose,
                    tokens_in=call.tokens_in,
                    tokens_out=call.tokens_out,
                    cost=cost,
                    latency_ms=latency_ms,
                    attempts=call.attempts,
                    ok=error is None,
                    error=described[:1000],
                )
            )
        return cost, latency_ms


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0
