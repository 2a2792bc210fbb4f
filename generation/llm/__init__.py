"""Everything that talks to a model goes through here; only `transport` imports `openai`.

`LLMClient` wraps one `AsyncOpenAI` per endpoint with what a run needs: a concurrency limit
and RPM/TPM token buckets behind one seam (`limits`), retries with backoff and jitter for
transient errors only (`base`), structured output validated against a JSON Schema with
fallbacks for servers without json_schema (`structured`, `chat`), `n` choices even where the
server ignores `n`, tool calls (`generation.llm_tools`, natively or by prompt), logprobs of a
given text (`generation.llm_score`), and one `CallRecord` per logical call for the caller to
persist (`records`). Pure library: no Django here. One client per event loop.

    errors.py     the typed errors (Retryable/Permanent/StructuredOutput/Capability)
    records.py    EndpointConfig, Completion, CallRecord
    limits.py     the Limits seam and the in-process limiter
    transport.py  the openai client: pre-built JSON bodies out, bytes back
    base.py       the retry loop, usage and records
    structured.py response formats, the schema in the prompt, the check
    chat.py       chat completions: n, structured output, tools
    client.py     LLMClient: chat plus text, embeddings, scoring, raw requests
"""

from __future__ import annotations

from generation.llm.client import LLMClient, Route
from generation.llm.errors import (
    NO_PLP,
    CapabilityError,
    LLMError,
    PermanentLLMError,
    RetryableLLMError,
    StructuredOutputError,
    n_limit,
)
from generation.llm.limits import InProcessLimits, Limits
from generation.llm.records import CallRecord, Completion, EndpointConfig
from generation.llm.structured import Mode
from generation.llm.transport import probe
from generation.llm.transport import retry_after as _retry_after
from generation.llm_parse import TokenLogprob
from generation.llm_score import ScoredToken, TextScore
from generation.llm_tools import ToolCall

__all__ = [
    "NO_PLP",
    "CallRecord",
    "CapabilityError",
    "Completion",
    "EndpointConfig",
    "InProcessLimits",
    "LLMClient",
    "LLMError",
    "Limits",
    "Mode",
    "PermanentLLMError",
    "RetryableLLMError",
    "Route",
    "ScoredToken",
    "StructuredOutputError",
    "TextScore",
    "TokenLogprob",
    "ToolCall",
    "_retry_after",
    "n_limit",
    "probe",
]
