"""The plumbing of an Item's LLM steps: which options pass through, and a step's own call list."""

from __future__ import annotations

import contextvars
import statistics
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from generation.llm import Completion
from generation.recipes.kit.results import FIRST_TOKENS, Gen

V = TypeVar("V")

CURRENT: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "seedbed_step_calls", default=None
)


async def compute_with(calls: list[dict[str, Any]], compute: Callable[[], Awaitable[V]]) -> V:
    """Run a step with its own call list, so concurrent steps do not mix their calls."""
    token = CURRENT.set(calls)
    try:
        return await compute()
    finally:
        CURRENT.reset(token)


OPTIONS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "presence_penalty",
        "seed",
        "logprobs",
        "top_logprobs",
        "json_schema",
        "tools",
        "tool_choice",
    }
)
TEXT_OPTIONS = frozenset({"temperature", "top_p", "max_tokens", "stop", "presence_penalty", "seed"})


def to_gen(done: Completion, role: str, template: str, version: str) -> Gen:
    first: list[list[list[Any]]] | None = None
    means: list[float | None] | None = None
    if done.logprobs:
        first = [
            [[t.token, t.logprob, dict(t.top)] for t in lp[:FIRST_TOKENS]] for lp in done.logprobs
        ]
        means = [statistics.fmean(t.logprob for t in lp) if lp else None for lp in done.logprobs]
    return Gen(
        texts=list(done.texts),
        finish_reasons=list(done.finish_reasons),
        model=done.model,
        role=role,
        template=template,
        version=version,
        parsed=list(done.parsed) if done.parsed is not None else None,
        first_tokens=first,
        mean_logprob=means,
        tool_calls=[[c.as_dict() for c in choice] for choice in done.tool_calls],
    )
