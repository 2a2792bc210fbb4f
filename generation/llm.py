"""The only module that imports `openai`. Everything that talks to a model goes through here.

This first cut holds what the foundation needs (reachability); the generation engine
adds `complete()` and `embed()` with retries, limits and per-call accounting.
"""

from __future__ import annotations

import time
from typing import Any

import openai


class LLMError(Exception):
    pass


class RetryableLLMError(LLMError):
    """429, 5xx, timeouts and connection errors: worth another try after a backoff."""


class PermanentLLMError(LLMError):
    """Bad requests, auth failures, unknown models: retrying will not help."""


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
