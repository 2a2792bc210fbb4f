"""What an endpoint can do, found by probing it, and whether that covers a recipe's needs.

Each probe is one tiny request (max_tokens ≤ 5) without retries, all of them at once and within
one timeout. A capability reads True (the server did it), False (it refused, or ignored the
option), or None (nothing learned: a timeout, a 429 or 5xx, an auth failure). A failed probe is
recorded in `errors`, never raised. Pure library: no Django, and the SDK only through `llm`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from generation.llm import CapabilityError, LLMClient, LLMError, PermanentLLMError, Route

PROBE_TIMEOUT_S = 30.0
# A status that says "no such thing here", as opposed to "not now" or "not you".
_REFUSED = frozenset({400, 404, 405, 415, 422, 501})
_PING = [{"role": "user", "content": "Reply with the single word: ok"}]
_PING_TOOL = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Check that the service answers.",
        "parameters": {"type": "object", "properties": {}},
    },
}
_PING_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}

# METHODS.md §0.2 codes that are about the endpoint. The others (SBX, RT, ENV, MM, VLM, RET,
# KG, CLS, FT, ...) are about what runs beside it, and an endpoint probe cannot answer them.
NEED_CODES: dict[str, str] = {
    "N": "n",
    "LP": "logprobs",
    "PLP": "prompt_logprobs",
    "EMB": "embeddings",
    "tools": "tools",
}
_BY_CODE = {code.upper(): name for code, name in NEED_CODES.items()}


@dataclass(frozen=True)
class Capabilities:
    chat: bool | None = None
    completions: bool | None = None
    n: bool | None = None  # n>1 honoured in one request
    logprobs: bool | None = None  # of the output tokens
    prompt_logprobs: bool | None = None  # of a given text (PLP): echo or vLLM's prompt_logprobs
    json_schema: bool | None = None
    tools: bool | None = None
    embeddings: bool | None = None
    models: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # per probe that did not say yes
    checked_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for a JSONField."""
        out: dict[str, Any] = {name: getattr(self, name) for name in CAPABILITIES}
        out.update(
            models=list(self.models),
            errors=dict(self.errors),
            checked_at=self.checked_at.isoformat() if self.checked_at else None,
        )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capabilities:
        """Read back what as_dict() stored; anything missing or odd reads as unknown."""
        flags = {n: data[n] if isinstance(data.get(n), bool) else None for n in CAPABILITIES}
        stamp = data.get("checked_at")
        try:
            checked_at = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
        except ValueError:
            checked_at = None
        models, errors = data.get("models"), data.get("errors")
        return cls(
            **flags,
            models=[str(m) for m in models] if isinstance(models, list) else [],
            errors={str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
            checked_at=checked_at,
        )


CAPABILITIES: tuple[str, ...] = tuple(
    f.name for f in fields(Capabilities) if f.name not in ("models", "errors", "checked_at")
)


@dataclass(frozen=True)
class NeedsCheck:
    missing: list[str]  # need codes the endpoint was seen not to serve: refuse
    unknown: list[str]  # need codes nobody has probed, or no probe could tell: warn

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unknown


def check_needs(needs: Iterable[str], caps: Capabilities | Mapping[str, Any] | None) -> NeedsCheck:
    """Which of a recipe's need codes the endpoint's capabilities do not cover."""
    known = caps.as_dict() if isinstance(caps, Capabilities) else dict(caps or {})
    missing, unknown = [], []
    for code in sorted(set(needs)):
        name = _BY_CODE.get(code.strip().upper())
        if name is None:
            continue  # not an endpoint capability
        value = known.get(name)
        if value is False:
            missing.append(code)
        elif value is not True:
            unknown.append(code)
    return NeedsCheck(missing, unknown)


def missing_needs(needs: Iterable[str], caps: Capabilities | Mapping[str, Any] | None) -> list[str]:
    return check_needs(needs, caps).missing


async def probe_capabilities(
    client: LLMClient,
    *,
    embedding_model: str | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> Capabilities:
    """Ask the endpoint, one tiny request per capability, what it does."""
    probes: dict[str, Callable[[], Awaitable[tuple[bool, str]]]] = {
        "chat": lambda: _chat(client),
        "completions": lambda: _completions(client),
        "n": lambda: _n(client),
        "logprobs": lambda: _logprobs(client),
        "prompt_logprobs": lambda: _prompt_logprobs(client),
        "json_schema": lambda: _json_schema(client),
        "tools": lambda: _tools(client),
        "embeddings": lambda: _embeddings(client, embedding_model),
    }
    found: dict[str, bool | None] = dict.fromkeys(probes)
    errors: dict[str, str] = {}
    models: list[str] = []

    async def run(name: str) -> None:
        try:
            found[name], why = await probes[name]()
        except LLMError as exc:
            found[name], why = _verdict(exc), str(exc)
        if why:
            errors[name] = why

    async def list_models() -> None:
        try:
            models.extend(await client.list_models(max_retries=0))
        except LLMError as exc:
            errors["models"] = str(exc)

    tasks = {asyncio.ensure_future(run(name)): name for name in probes}
    tasks[asyncio.ensure_future(list_models())] = "models"
    _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
        errors.setdefault(tasks[task], f"no answer within {timeout_s:g} s")
    await asyncio.gather(*pending, return_exceptions=True)
    return Capabilities(**found, models=models, errors=errors, checked_at=datetime.now(UTC))


# -- the probes: each returns (capable, why not) ----------------------------------------------


async def _chat(client: LLMClient) -> tuple[bool, str]:
    choices = _choices(await _ask(client, "chat", {"messages": _PING}))
    return bool(choices), "" if choices else "no choices in the reply"


async def _completions(client: LLMClient) -> tuple[bool, str]:
    choices = _choices(await _ask(client, "completions", {"prompt": "Say ok:"}))
    ok = bool(choices) and isinstance(choices[0].get("text"), str)
    return ok, "" if ok else "no text in the reply"


async def _n(client: LLMClient) -> tuple[bool, str]:
    # Sampled, not greedy: some servers refuse n > 1 at temperature 0.
    body = {"messages": _PING, "n": 2}
    choices = _choices(await _ask(client, "chat", body, temperature=1.0))
    ok = len(choices) >= 2
    return ok, "" if ok else f"asked for 2 choices, got {len(choices)}"


async def _logprobs(client: LLMClient) -> tuple[bool, str]:
    body = {"messages": _PING, "logprobs": True, "top_logprobs": 1}
    choices = _choices(await _ask(client, "chat", body))
    logprobs = choices[0].get("logprobs") if choices else None
    ok = isinstance(logprobs, dict) and bool(logprobs.get("content"))
    return ok, "" if ok else "the reply has no logprobs"


async def _prompt_logprobs(client: LLMClient) -> tuple[bool, str]:
    try:
        await client.score_text("The sky is", " blue.", purpose="probe")
    except CapabilityError as exc:
        return False, str(exc)
    except PermanentLLMError as exc:
        if client.score_method is None:
            raise
        return True, str(exc)  # it scores text, only not this one legibly
    return True, ""


async def _json_schema(client: LLMClient) -> tuple[bool, str]:
    schema = {"name": "probe", "schema": _PING_SCHEMA, "strict": True}
    body = {"messages": _PING, "response_format": {"type": "json_schema", "json_schema": schema}}
    choices = _choices(await _ask(client, "chat", body, max_tokens=5))
    return bool(choices), "" if choices else "no choices in the reply"


async def _tools(client: LLMClient) -> tuple[bool, str]:
    # Accepted is enough: whether five tokens hold a whole call is up to the model. vLLM
    # refuses "auto" unless tool parsing is on, llama.cpp refuses tools without --jinja.
    body = {"messages": _PING, "tools": [_PING_TOOL], "tool_choice": "auto"}
    choices = _choices(await _ask(client, "chat", body, max_tokens=5))
    return bool(choices), "" if choices else "no choices in the reply"


async def _embeddings(client: LLMClient, model: str | None) -> tuple[bool, str]:
    body: dict[str, Any] = {"input": ["ok"], "encoding_format": "float"}
    if model:
        body["model"] = model
    data = (await client.request("embeddings", body, max_retries=0)).get("data")
    ok = isinstance(data, list) and bool(data)
    return ok, "" if ok else "no embeddings in the reply"


async def _ask(
    client: LLMClient,
    route: Route,
    body: dict[str, Any],
    *,
    max_tokens: int = 1,
    temperature: float = 0.0,
) -> dict[str, Any]:
    payload = {**body, "max_tokens": max_tokens, "temperature": temperature}
    return await client.request(route, payload, max_retries=0)


def _choices(data: dict[str, Any]) -> list[dict[str, Any]]:
    choices = data.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _verdict(exc: LLMError) -> bool | None:
    """A refusal says no; anything else (429, 5xx, timeouts, a bad key) says nothing."""
    if isinstance(exc, PermanentLLMError) and exc.status_code in _REFUSED:
        return False
    return None
