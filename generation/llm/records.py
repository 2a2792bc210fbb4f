"""What goes into a client and what comes out of a call: endpoint settings, completions, records."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from generation.llm_parse import TokenLogprob
from generation.llm_tools import ToolCall, assistant_message


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
class Call:
    """What one logical call has used so far, across retries, repairs and fill-in requests."""

    model: str
    served_model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 0
