"""The only module that imports `openai`. Everything that talks to a model goes through here.

`LLMClient` wraps one `AsyncOpenAI` per endpoint with what a run needs: a concurrency limit,
RPM/TPM token buckets, retries with backoff and jitter for transient errors only, structured
output validated against a JSON Schema (with fallbacks for servers without json_schema), `n`
choices even where the server ignores `n`, tool calls (`llm_tools`), logprobs of a given text
(`llm_score`), and one `CallRecord` per logical call for the caller to persist. Pure library: no
Django here. One client per event loop.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar, cast

import httpx
import jsonschema
import openai

from generation import llm_tool_prompt as tool_prompt
from generation.llm_parse import (
    Choices,
    Malformed,
    parse_chat,
    parse_embeddings,
    parse_models,
    parse_text,
    whole,
)
from generation.llm_parse import TokenLogprob as TokenLogprob
from generation.llm_score import (
    Matched,
    NotAligned,
    ScoreMethod,
    TextScore,
    parse_echo,
    parse_prompt_logprobs,
    summarise,
)
from generation.llm_score import ScoredToken as ScoredToken
from generation.llm_tools import ToolCall as ToolCall
from generation.llm_tools import assistant_message

T = TypeVar("T")
Mode = Literal["json_schema", "json_object", "prompt"]
Route = Literal["chat", "completions", "embeddings"]

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
# A server that asks for a longer pause gets a RetryableLLMError at once, so the task that
# drives the run can re-enqueue itself instead of holding a worker.
MAX_RETRY_AFTER_S = 120.0
EMBED_BATCH = 256
ERROR_TEXT_LIMIT = 300
_MODE_ORDER: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
_ROUTES: dict[Route, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
}
# What a server answers when it does not know an option or a route.
_UNSUPPORTED_STATUS = frozenset({400, 404, 405, 422})
NO_PLP = "this endpoint does not return logprobs of a given text (PLP)"


class LLMError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableLLMError(LLMError):
    """429, 5xx, timeouts, connection errors, malformed replies: retries ran out (or the server
    asked for a longer pause than we wait in-process). Worth another try later."""


# "Field 'n': Value must be between 1 <= value <= 4", "'n' must be less than or equal to
# 128": the field named n, then its bound, with no other field named in between.
_N_LIMIT = re.compile(
    r"""(?:['"`]n['"`]|\bn\s*:)[^\n,;]{0,60}?(?:<=|≤|at most|no more than|"""
    r"""less than or equal to)\s*(\d+)""",
    re.IGNORECASE,
)


def n_limit(message: str) -> int | None:
    """The largest `n` a server's refusal names ("Field 'n': ... 1 <= value <= 4"), or None."""
    found = _N_LIMIT.search(message)
    return int(found.group(1)) if found else None


class PermanentLLMError(LLMError):
    """Bad requests, auth failures, unknown models: retrying will not help."""


class StructuredOutputError(PermanentLLMError):
    """The output still did not match the schema after the one repair attempt."""


class CapabilityError(PermanentLLMError):
    """The endpoint does not do what was asked (a METHODS.md §0.2 need), whatever we retry."""


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    api_key: str = ""
    model: str = ""
    max_concurrency: int = 8
    rpm: int | None = None  # requests per minute (token bucket)
    tpm: int | None = None  # tokens per minute: prompt chars/4 + max_tokens, settled on usage
    timeout_s: float = 120.0
    max_retries: int = 5
    price_in_per_1k: Decimal = Decimal(0)
    price_out_per_1k: Decimal = Decimal(0)
    endpoint_id: int | None = None


@dataclass(frozen=True)
class Completion:
    texts: list[str]  # one per choice
    finish_reasons: list[str]
    parsed: list[Any] | None  # validated structured output per choice, with json_schema
    logprobs: list[list[TokenLogprob]] | None
    model: str
    tokens_in: int
    tokens_out: int
    cost: Decimal
    latency_ms: int
    attempts: int
    tool_calls: list[list[ToolCall]] = field(default_factory=list)  # one list per choice

    def message(self, index: int = 0) -> dict[str, Any]:
        """Choice `index` as an assistant message, tool calls included, for the next turn."""
        calls = self.tool_calls[index] if index < len(self.tool_calls) else []
        return assistant_message(self.texts[index], calls)


@dataclass(frozen=True)
class CallRecord:
    """One per logical call, after retries; the caller stores these as LLMCall rows."""

    endpoint_id: int | None
    model: str
    purpose: str
    tokens_in: int
    tokens_out: int
    cost: Decimal
    latency_ms: int
    attempts: int
    ok: bool
    error: str


@dataclass
class _Call:
    """What one logical call has used so far, across retries, repairs and fill-in requests."""

    model: str
    served_model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 0


class _TokenBucket:
    """`per_minute` tokens, refilled continuously; starts full, so one minute's quota may burst."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        amount = min(amount, self.capacity)  # more than a minute's quota: wait for a full bucket
        async with self._lock:  # first come, first served
            self._refill()
            while self.tokens < amount - 1e-9:
                await self._sleep((amount - self.tokens) / self.rate)
                self._refill()
            self.tokens -= amount

    def settle(self, delta: float) -> None:
        """Correct an estimate once real usage is known; the bucket may go into debt."""
        self.tokens -= delta


class LLMClient:
    def __init__(
        self,
        config: EndpointConfig,
        *,
        recorder: Callable[[CallRecord], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._recorder = recorder
        self._sleep = sleep
        self._rng = rng or random.Random()
        # Our own retries, so the SDK's are off.
        self._client = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",
            timeout=config.timeout_s,
            max_retries=0,
        )
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._rpm = _TokenBucket(config.rpm, clock, sleep) if config.rpm else None
        self._tpm = _TokenBucket(config.tpm, clock, sleep) if config.tpm else None
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

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        purpose: str = "generate",
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        presence_penalty: float | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> Completion:
        """A chat completion. Messages pass through as given, so assistant messages with
        `tool_calls` and `role: tool` results work as they do on the server."""
        if n < 1:
            raise ValueError("n must be at least 1")
        params = _sampling(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=stop,
            presence_penalty=presence_penalty,
            seed=seed,
            logprobs=True if logprobs else None,
            top_logprobs=top_logprobs if logprobs else None,
            tools=tools or None,
            tool_choice=tool_choice if tools else None,
            parallel_tool_calls=parallel_tool_calls if tools else None,
        )
        call = _Call(model or self.config.model)
        started = time.perf_counter()
        by_prompt = bool(tools) and self.tools_mode == "prompt"
        sent, sent_params = (
            _tools_by_prompt(messages, params, tools, tool_choice)
            if by_prompt
            else (messages, params)
        )
        try:
            try:
                choices, parsed = await self._any(
                    call, sent, n, sent_params, json_schema, schema_name
                )
            except PermanentLLMError as exc:
                if not tools or by_prompt or not _refuses_tools(exc):
                    raise
                self.tools_mode, by_prompt = "prompt", True  # the server has no native tools
                sent, sent_params = _tools_by_prompt(messages, params, tools, tool_choice)
                choices, parsed = await self._any(
                    call, sent, n, sent_params, json_schema, schema_name
                )
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        if by_prompt:
            _read_prompted_calls(choices)
        given = [lp for lp in choices.logprobs if lp is not None]
        return self._completion(
            call,
            purpose,
            started,
            choices,
            parsed,
            [lp or [] for lp in choices.logprobs] if logprobs and given else None,
        )

    async def _any(
        self,
        call: _Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        json_schema: dict[str, Any] | None,
        schema_name: str,
    ) -> tuple[Choices, list[Any] | None]:
        if json_schema is None:
            return await self._choices(call, messages, n, params, None), None
        return await self._structured(call, messages, n, params, json_schema, schema_name)

    async def complete_text(
        self,
        prompt: str,
        *,
        purpose: str = "generate",
        n: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        presence_penalty: float | None = None,
        seed: int | None = None,
        model: str | None = None,
    ) -> Completion:
        """A plain text completion (`/v1/completions`), as GPT-3-era recipes were written.

        Not every server has it (OpenAI's chat models do not): a 404/400 is a
        PermanentLLMError, and the caller can fall back to `complete()`.
        """
        params = _sampling(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=stop,
            presence_penalty=presence_penalty,
            seed=seed,
            n=n if n > 1 else None,
        )
        call = _Call(model or self.config.model)
        started = time.perf_counter()

        async def send() -> str:
            raw = await self._client.completions.with_raw_response.create(
                model=call.model, prompt=prompt, **cast(Any, params)
            )
            text: str = raw.http_response.text
            return text

        estimate = len(prompt) // 4 + 1 + int(max_tokens or 0) * n
        try:
            choices = await self._request(call, send, parse_text, estimate)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        return self._completion(call, purpose, started, choices, None, None)

    def _completion(
        self,
        call: _Call,
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

    async def embed(
        self, texts: list[str], *, model: str | None = None, purpose: str = "embed"
    ) -> list[list[float]]:
        if not texts:
            return []
        call = _Call(model or self.config.model)
        started = time.perf_counter()
        batches = [texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH)]
        try:
            results = await _gather(self._embed_batch(call, batch) for batch in batches)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        self._record(call, purpose, started, None)
        return [vector for batch in results for vector in batch]

    async def score_text(
        self,
        prompt: str,
        continuation: str = "",
        *,
        purpose: str = "score",
        model: str | None = None,
    ) -> TextScore:
        """The logprob of each token of `prompt + continuation` as the model reads it, summed
        over the continuation (over the whole text when there is none): METHODS.md's PLP.

        Asked of `/v1/completions` with `echo` first, then with vLLM's `prompt_logprobs`; the
        way that works is remembered. A server with neither (llama.cpp, OpenAI's chat models)
        raises CapabilityError, here and on every later call of this client.
        """
        text = prompt + continuation
        if not text:
            raise ValueError("there is no text to score")
        if not self.supports_score:
            raise CapabilityError(f"{NO_PLP}, as an earlier call found")
        call = _Call(model or self.config.model)
        started = time.perf_counter()
        try:
            found = await self._score(call, prompt, text)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        total, mean, count = summarise(found)
        cost, latency_ms = self._record(call, purpose, started, None)
        return TextScore(
            tokens=found.tokens,
            continuation_start=found.continuation_start,
            sum_logprob=total,
            mean_logprob=mean,
            count=count,
            method=found.method,
            model=call.served_model or call.model,
            tokens_in=call.tokens_in,
            cost=cost,
            latency_ms=latency_ms,
        )

    async def request(
        self,
        route: Route,
        body: dict[str, Any],
        *,
        purpose: str = "probe",
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        """One request with `body` as given (the model defaults to the endpoint's) and the
        reply's JSON as it came: for capability probes and options this module does not model.
        Limits, accounting and typed errors as for every call."""
        call = _Call(str(body.get("model") or self.config.model))
        payload = {**body, "model": call.model}

        async def send() -> str:
            response = await self._client.post(_ROUTES[route], body=payload, cast_to=httpx.Response)
            return response.text

        estimate = len(json.dumps(payload)) // 4 + 1 + int(body.get("max_tokens") or 0)
        started = time.perf_counter()
        try:
            data = await self._request(call, send, whole, estimate, max_retries)
        except BaseException as exc:
            self._record(call, purpose, started, exc)
            raise
        self._record(call, purpose, started, None)
        return data

    async def list_models(self, *, max_retries: int | None = None) -> list[str]:
        """The model ids `/models` lists. Not recorded: it uses no tokens."""

        async def send() -> str:
            response = await self._client.get("/models", cast_to=httpx.Response)
            return response.text

        return await self._request(_Call(""), send, parse_models, 0, max_retries)

    # -- scoring a given text --------------------------------------------------------------------

    async def _score(self, call: _Call, prompt: str, text: str) -> Matched:
        known = self.score_method
        refusals = []
        for method in (known,) if known else ("echo", "prompt_logprobs"):
            try:
                found = await self._score_once(call, method, prompt, text)
            except PermanentLLMError as exc:
                if known or exc.status_code not in _UNSUPPORTED_STATUS:
                    raise
                refusals.append(f"{method}: {exc}")
                continue
            except NotAligned as exc:  # the server scores prompts, just not this one legibly
                self.score_method = method
                raise PermanentLLMError(f"cannot score this text: {exc}") from exc
            if found is not None:
                self.score_method = method
                return found
            refusals.append(f"{method}: the reply has no logprobs of the prompt")
        if known:
            raise PermanentLLMError(f"{known} scoring stopped working: {refusals[0]}")
        self.supports_score = False
        raise CapabilityError(f"{NO_PLP}; tried {'; '.join(refusals)}")

    async def _score_once(
        self, call: _Call, method: ScoreMethod, prompt: str, text: str
    ) -> Matched | None:
        options: dict[str, Any] = (
            {"echo": True, "logprobs": 1}
            if method == "echo"
            else {"extra_body": {"prompt_logprobs": 0}}  # vLLM: 0 = the prompt token alone
        )

        async def send() -> str:
            raw = await self._client.completions.with_raw_response.create(
                model=call.model, prompt=text, max_tokens=1, temperature=0.0, **options
            )
            body: str = raw.http_response.text
            return body

        parse = parse_echo if method == "echo" else parse_prompt_logprobs
        continuation = text[len(prompt) :]
        return await self._request(
            call, send, lambda data: parse(data, prompt, continuation), len(text) // 4 + 2
        )

    # -- chat ----------------------------------------------------------------------------------

    async def _choices(
        self,
        call: _Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
    ) -> Choices:
        """`n` choices: in one request where the server honours `n` (in several where it caps
        it, as llama.cpp does at 4), else in parallel singles."""
        got = Choices()
        if n == 1 or self.supports_n:
            got = await self._capped(call, messages, n, params, response_format)
            if len(got.texts) < n:
                self.supports_n = False
        if len(got.texts) < n:
            have = len(got.texts)
            singles = [1] * (n - have)
            got.extend(await self._at_once(call, messages, singles, params, response_format, have))
        return got.first(n)

    async def _at_once(
        self,
        call: _Call,
        messages: list[dict[str, Any]],
        sizes: list[int],
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
        offset: int = 0,
    ) -> Choices:
        """Requests for these numbers of choices, in parallel. The seed varies per request
        (seed + offset + i), so that seeded servers do not hand back copies of one sample."""
        seed = params.get("seed")
        got = Choices()
        for more in await _gather(
            self._chat_once(
                call,
                messages,
                k,
                dict(params, seed=seed + offset + i) if seed is not None else params,
                response_format,
            )
            for i, k in enumerate(sizes)
        ):
            got.extend(more)
        return got

    async def _capped(
        self,
        call: _Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
    ) -> Choices:
        """`n` choices in requests of at most `max_n`, learnt from a server that refuses more
        with a 400 naming its limit ("'n' ... <= 4"); the seed varies per request."""
        while True:
            size = min(n, self.max_n or n)
            sizes = [min(size, n - start) for start in range(0, n, size)]
            try:
                return await self._at_once(call, messages, sizes, params, response_format)
            except PermanentLLMError as exc:
                limit = n_limit(str(exc)) if size > 1 else None
                if limit is None or limit >= size:
                    raise
                self.max_n = max(1, limit)

    async def _chat_once(
        self,
        call: _Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
    ) -> Choices:
        extra = dict(params)
        if n > 1:
            extra["n"] = n
        if response_format is not None:
            extra["response_format"] = response_format

        async def send() -> str:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=call.model, messages=cast(Any, messages), **extra
            )
            text: str = raw.http_response.text
            return text

        estimate = _estimate_tokens(messages) + int(params.get("max_tokens") or 0) * n
        if params.get("tools"):
            estimate += len(json.dumps(params["tools"])) // 4
        return await self._request(call, send, parse_chat, estimate)

    async def _embed_batch(self, call: _Call, batch: list[str]) -> list[list[float]]:
        async def send() -> str:
            raw = await self._client.embeddings.with_raw_response.create(
                model=call.model, input=batch, encoding_format="float"
            )
            return raw.http_response.text

        def parse(data: dict[str, Any]) -> list[list[float]]:
            return parse_embeddings(data, len(batch))

        return await self._request(call, send, parse, sum(len(t) for t in batch) // 4 + 1)

    async def _request(
        self,
        call: _Call,
        send: Callable[[], Awaitable[str]],
        parse: Callable[[dict[str, Any]], T],
        estimate: int,
        max_retries: int | None = None,
    ) -> T:
        """One HTTP request with retries for transient failures only."""
        retries = self.config.max_retries if max_retries is None else max_retries
        first_attempt = call.attempts + 1
        last_error = ""
        for attempt in range(1, retries + 2):
            await self._take_rate(estimate)
            call.attempts += 1
            retry_after: float | None = None
            try:
                async with self._slots:
                    body = await send()
            except openai.APIStatusError as exc:
                message = self._status_message(exc)
                if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
                    raise PermanentLLMError(message, status_code=exc.status_code) from exc
                last_error, retry_after = message, _retry_after(exc.response.headers)
            except openai.APIConnectionError as exc:  # timeouts included
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                try:
                    return self._accept(call, body, parse, estimate)
                except ValueError as exc:  # Malformed, or a body that is not JSON at all
                    last_error = f"malformed response: {_clip(str(exc))}"
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
        self, call: _Call, body: str, parse: Callable[[dict[str, Any]], T], estimate: int
    ) -> T:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise Malformed("the body is not a JSON object")
        raw_usage = data.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        tokens_in = _int(usage.get("prompt_tokens"))
        tokens_out = _int(usage.get("completion_tokens"))
        call.tokens_in += tokens_in  # billed even if the rest of the body is broken
        call.tokens_out += tokens_out
        if self._tpm is not None and usage:
            self._tpm.settle(tokens_in + tokens_out - estimate)
        result = parse(data)
        if isinstance(data.get("model"), str) and not call.served_model:
            call.served_model = data["model"]
        return result

    async def _take_rate(self, tokens: int) -> None:
        if self._rpm is not None:
            await self._rpm.take(1)
        if self._tpm is not None:
            await self._tpm.take(tokens)

    def _status_message(self, exc: openai.APIStatusError) -> str:
        body = exc.body
        if isinstance(body, dict):
            detail = str(body.get("message") or json.dumps(body))
        else:
            detail = str(body) if body is not None else exc.response.text
        return f"HTTP {exc.status_code} from {self.config.base_url}: {_clip(detail)}"

    # -- structured output -------------------------------------------------------------------

    async def _structured(
        self,
        call: _Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        schema: dict[str, Any],
        name: str,
    ) -> tuple[Choices, list[Any]]:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)  # a broken schema is our bug: fail before any call
        validator = validator_class(schema)
        while True:
            mode = self.structured_mode
            request = _with_schema(messages, schema) if mode != "json_schema" else messages
            response_format = _response_format(mode, schema, name)
            try:
                choices = await self._choices(call, request, n, params, response_format)
            except PermanentLLMError as exc:
                if not self._fall_back(mode, exc):
                    raise
                continue
            self._confirmed_modes.add(mode)
            break
        repair_params = {k: v for k, v in params.items() if k not in ("logprobs", "top_logprobs")}
        checked = await _gather(
            self._check_or_repair(call, request, text, validator, repair_params, response_format)
            if not calls
            else _as_is(text)  # a tool call instead of the answer: nothing to validate yet
            for text, calls in zip(choices.texts, choices.tool_calls, strict=True)
        )
        for index, (text, _value, finish_reason) in enumerate(checked):
            if text != choices.texts[index]:  # repaired: show what was accepted
                choices.texts[index], choices.finish_reasons[index] = text, finish_reason
                choices.logprobs[index] = None
        return choices, [value for _text, value, _finish in checked]

    def _fall_back(self, mode: Mode, exc: PermanentLLMError) -> bool:
        """After a rejected structured request: step down to a weaker mode if that may help."""
        if mode == "prompt" or exc.status_code not in (400, 422):
            return False
        text = str(exc).lower()
        mentions = "response_format" in text or mode in text or mode.replace("_", "") in text
        if not mentions and "tool" in text:  # the tools were refused, not the format
            return False
        if not mentions and not (exc.status_code == 400 and mode not in self._confirmed_modes):
            return False
        weaker = _MODE_ORDER[_MODE_ORDER.index(mode) + 1]
        if _MODE_ORDER.index(weaker) > _MODE_ORDER.index(self.structured_mode):
            self.structured_mode = weaker  # only ever steps down, even under concurrency
        return True

    async def _check_or_repair(
        self,
        call: _Call,
        request: list[dict[str, Any]],
        text: str,
        validator: Any,
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
    ) -> tuple[str, Any, str]:
        value, problem = _check(text, validator)
        if problem is None:
            return text, value, "stop"
        repair = [
            *request,
            {"role": "assistant", "content": text},
            {
                "role": "user",
                "content": "That reply is not acceptable: "
                + problem
                + "\nReply again with the corrected JSON only: no prose, no code fences.",
            },
        ]
        fixed = await self._chat_once(call, repair, 1, params, response_format)
        value, problem = _check(fixed.texts[0], validator)
        if problem is not None:
            raise StructuredOutputError(f"output still invalid after one repair: {problem}")
        return fixed.texts[0], value, fixed.finish_reasons[0]

    # -- accounting ------------------------------------------------------------------------------

    def _record(
        self, call: _Call, purpose: str, started: float, error: BaseException | None
    ) -> tuple[Decimal, int]:
        cost = (
            Decimal(call.tokens_in) / 1000 * self.config.price_in_per_1k
            + Decimal(call.tokens_out) / 1000 * self.config.price_out_per_1k
        )
        latency_ms = int((time.perf_counter() - started) * 1000)
        if self._recorder is not None:
            described = ""
            if error is not None:
                described = f"{type(error).__name__}: {error}" if str(error) else repr(error)
            self._recorder(
                CallRecord(
                    endpoint_id=self.config.endpoint_id,
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


# -- helpers -------------------------------------------------------------------------------------


async def _gather(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Like asyncio.gather, but the first failure cancels the rest instead of orphaning them."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _as_is(text: str) -> tuple[str, Any, str]:
    return text, None, "tool_calls"


def _sampling(**options: Any) -> dict[str, Any]:
    """The request options that were given; an unset option is left to the server."""
    return {key: value for key, value in options.items() if value is not None}


def _response_format(mode: Mode, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }
    return {"type": "json_object"} if mode == "json_object" else None


def _with_schema(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages with the schema, as data, added to the system prompt (copied, not mutated)."""
    note = (
        "Reply with a single JSON value and nothing else: no prose, no code fences. "
        "It must conform to this JSON Schema:\n```json\n" + json.dumps(schema) + "\n```"
    )
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        content = out[0].get("content")
        if isinstance(content, list):
            out[0]["content"] = [*content, {"type": "text", "text": note}]
        else:
            out[0]["content"] = f"{content or ''}\n\n{note}".lstrip()
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def _check(text: str, validator: Any) -> tuple[Any, str | None]:
    """(value, None) when `text` is JSON matching the schema, else (None, what is wrong)."""
    try:
        value = _loads_lenient(text)
    except ValueError as exc:
        return None, f"it is not valid JSON ({_clip(str(exc))})"
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return value, None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return None, f"it does not match the schema at {where}: {_clip(error.message)}"


def _loads_lenient(text: str) -> Any:
    """JSON, tolerating a code fence or prose around one object or array."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        return json.loads(stripped)
    except ValueError:
        for opener, closer in ("{}", "[]"):
            start, end = stripped.find(opener), stripped.rfind(closer)
            if 0 <= start < end:
                try:
                    return json.loads(stripped[start : end + 1])
                except ValueError:
                    continue
        raise


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `Retry-After` in s or a date."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _estimate_tokens(messages: list[dict[str, Any]]) -> int:
    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return chars // 4 + 1


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


def probe(base_url: str, api_key: str, timeout: float = 5.0) -> dict[str, Any]:
    """List the endpoint's models. Never raises: the result says what happened."""
    client = openai.OpenAI(
        base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
    )
    started = time.monotonic()
    try:
        models = [m.id for m in client.models.list()]
    except openai.APIStatusError as exc:
        return {"ok": False, "error": f"HTTP {exc.status_code}", "latency_ms": _ms(started)}
    except openai.APIConnectionError as exc:
        return {
            "ok": False,
            "error": f"unreachable ({type(exc).__name__})",
            "latency_ms": _ms(started),
        }
    finally:
        client.close()
    return {"ok": True, "models": models[:20], "latency_ms": _ms(started)}


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _refuses_tools(exc: PermanentLLMError) -> bool:
    """A 400/422 that names the tools: the server cannot take `tools` natively."""
    return exc.status_code in (400, 422) and "tool" in str(exc).lower()


def _tools_by_prompt(
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    tools: list[dict[str, Any]] | None,
    tool_choice: str | dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The request with the tools in the system message instead of the `tools` field."""
    plain = {
        k: v for k, v in params.items() if k not in ("tools", "tool_choice", "parallel_tool_calls")
    }
    return tool_prompt.prompted(messages, tools or [], tool_choice), plain


def _read_prompted_calls(choices: Choices) -> None:
    """Each choice's <tool_call> blocks become its tool calls; the rest stays its text."""
    for index, text in enumerate(choices.texts):
        rest, calls = tool_prompt.parse_reply(text)
        if calls:
            choices.texts[index] = rest
            while len(choices.tool_calls) <= index:
                choices.tool_calls.append([])
            choices.tool_calls[index] = calls
            if choices.finish_reasons[index] == "stop":
                choices.finish_reasons[index] = "tool_calls"
