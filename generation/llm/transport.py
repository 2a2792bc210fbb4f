"""The only module that imports `openai`: it sends a request and hands back the body's bytes.

Bodies are built by us and sent as JSON bytes through the client's low-level `post`, so the
SDK neither transforms nor validates the params on each call (its TypedDict walk over
`messages` was a large part of our per-call CPU); replies come back as bytes for orjson, not
as pydantic models. The SDK still does the HTTP: auth headers, timeouts, its typed status and
connection errors (mapped here to `StatusFailure` and `ConnectionFailure`); its own retries
are off, the client retries (generation/llm/base.py).

The HTTP transport is the SDK's aiohttp one (`openai[aiohttp]`, `DefaultAioHttpClient`): at 64
requests in flight the default httpx pool costs about twice the CPU per request, because it
probes every idle connection's socket on each request. aiohttp ignores HTTP(S)_PROXY, so where
a proxy is configured the SDK's default transport is used instead (see `_http_client`).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import openai
import orjson

from generation.llm.errors import clip

_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")
# The SDK's telemetry headers (x-stainless-os, -arch, -runtime, ...): nine more headers to
# build, copy and parse on every request, which no server needs.
_TELEMETRY = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
)
_NO_TELEMETRY: Any = {name: openai.Omit() for name in _TELEMETRY}
_PER_REQUEST = {
    "Content-Type": "application/json",
    "X-Stainless-Retry-Count": openai.Omit(),
    "X-Stainless-Read-Timeout": openai.Omit(),
}


class StatusFailure(Exception):
    """The server answered 4xx or 5xx."""

    def __init__(self, status_code: int, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after  # seconds the server asked us to wait, if it did


class ConnectionFailure(Exception):
    """No answer: refused, reset, timed out."""


def dumps(body: Any) -> bytes:
    """The request body as JSON; the standard library for what orjson refuses (int keys)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode()


def uses_proxy(environ: Any = os.environ) -> bool:
    return any(environ.get(name) or environ.get(name.upper()) for name in _PROXY_VARIABLES)


def _http_client(timeout_s: float) -> httpx2.AsyncClient | None:
    """openai's aiohttp transport, or None (the SDK's httpx default) where a proxy is set."""
    if uses_proxy():
        return None
    return openai.DefaultAioHttpClient(timeout=timeout_s)


class Transport:
    """One AsyncOpenAI client for one endpoint and event loop, with its retries off."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        self.base_url = base_url
        # Otherwise the SDK makes a uuid4 per request (a getrandom call) for a key that it
        # never sends to OpenAI-style servers; ours is only unique within the client.
        self._keys = itertools.count()
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
            http_client=_http_client(timeout_s),
            default_headers=_NO_TELEMETRY,
        )

    async def post(self, path: str, body: Any) -> bytes:
        # `content` goes out as it is; the SDK adds the auth and its client headers.
        options: Any = {"headers": _PER_REQUEST, "idempotency_key": f"sb-{next(self._keys)}"}
        try:
            response = await self._client.post(
                path, content=dumps(body), cast_to=httpx2.Response, options=options
            )
        except openai.APIStatusError as exc:
            raise self._status(exc) from exc
        except openai.APIConnectionError as exc:  # timeouts included
            raise unanswered(exc) from exc
        return response.content

    async def get(self, path: str) -> bytes:
        try:
            response = await self._client.get(path, cast_to=httpx2.Response)
        except openai.APIStatusError as exc:
            raise self._status(exc) from exc
        except openai.APIConnectionError as exc:
            raise unanswered(exc) from exc
        return response.content

    async def aclose(self) -> None:
        await self._client.close()

    def _status(self, exc: openai.APIStatusError) -> StatusFailure:
        body = exc.body
        if isinstance(body, dict):
            detail = str(body.get("message") or json.dumps(body))
        else:
            detail = str(body) if body is not None else exc.response.text
        message = f"HTTP {exc.status_code} from {self.base_url}: {clip(detail)}"
        return StatusFailure(exc.status_code, message, retry_after(exc.response.headers))


def unanswered(exc: openai.APIConnectionError) -> ConnectionFailure:
    """What went wrong, from the innermost cause: the aiohttp transport hands a refused or
    dropped connection to the SDK as a connect timeout, which would read "timed out"."""
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if root is exc:
        return ConnectionFailure(f"{type(exc).__name__}: {exc}")
    cause = f"({type(root).__name__}: {clip(str(root))})"
    if isinstance(exc, openai.APITimeoutError) and not isinstance(root, TimeoutError):
        return ConnectionFailure(f"APIConnectionError: Connection error. {cause}")
    return ConnectionFailure(f"{type(exc).__name__}: {exc} {cause}")


def retry_after(headers: Any) -> float | None:
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
