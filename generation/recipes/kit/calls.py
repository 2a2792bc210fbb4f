"""The plumbing of an Item's LLM steps: which options pass through, a step's own call list,
rendering a template, sending it to chat or /v1/completions, and what a call records."""

from __future__ import annotations

import contextvars
import statistics
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from generation.llm import CapabilityError, Completion, LLMClient, PermanentLLMError
from generation.recipes.base import SeedRow
from generation.recipes.kit.results import FIRST_TOKENS, Gen
from generation.recipes.prompts import PromptTemplate

V = TypeVar("V")
_NO_COMPLETIONS = (400, 404, 405, 501)  # what a chat-only server answers on /v1/completions

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


def render(
    prompts: Mapping[str, PromptTemplate],
    template: str | None,
    messages: list[dict[str, Any]] | None,
    values: dict[str, Any],
    system: str | None,
) -> tuple[list[dict[str, Any]], str]:
    """The messages of a call and its template version: `template` rendered with `values` as
    one user turn (after `system`), or `messages` as given."""
    version = ""
    if template is not None:
        tmpl = prompts[template]
        text = tmpl.render(**{k: str(v) for k, v in values.items()})
        version = tmpl.version
        messages = [{"role": "user", "content": text}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
    if messages is None:
        raise ValueError("gen() needs a template or messages")
    return messages, version


async def send(
    connection: tuple[LLMClient, str, str],
    messages: list[dict[str, Any]],
    n: int,
    api: str,
    purpose: str,
    options: dict[str, Any],
    chat_only: list[str],
) -> Completion:
    """One call on (client, model, endpoint key): to /v1/completions for api "completions" and
    "auto" (the messages joined), else to chat. "auto" falls back to chat where the endpoint
    has no completions API, and `chat_only` (the run's list) remembers that endpoint."""
    client, model, endpoint = connection
    if api == "completions" and endpoint in chat_only:
        raise CapabilityError("the endpoint has no /v1/completions API, as an earlier call found")
    if api in ("completions", "auto") and endpoint not in chat_only:
        prompt = "\n\n".join(str(m.get("content") or "") for m in messages)
        plain = {k: v for k, v in options.items() if k in TEXT_OPTIONS}
        try:
            return await client.complete_text(prompt, purpose=purpose, n=n, model=model, **plain)
        except PermanentLLMError as exc:
            if api == "completions" or exc.status_code not in _NO_COMPLETIONS:
                raise
            chat_only.append(endpoint)
    return await client.complete(messages, purpose=purpose, n=n, model=model, **options)


def call_record(
    op: str, role: str, model: str, template: str, version: str, tokens_in: int, tokens_out: int
) -> dict[str, Any]:
    """What an Item keeps of one call: lineage (role, model, template) and its tokens."""
    return {
        "op": op,
        "role": role,
        "model": model,
        "template": template,
        "version": version,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
    }


def encode_picks(picked: list[Any]) -> list[Any]:
    """SAMPLE's journal entry: seeds by id, anything else as it is (JSON)."""
    return [{"seed": p.id} if isinstance(p, SeedRow) else p for p in picked]


def decode_picks(raw: list[Any], seed: Callable[[int], SeedRow]) -> list[Any]:
    return [seed(p["seed"]) if isinstance(p, dict) and set(p) == {"seed"} else p for p in raw]
