"""Chat completions: `n` choices however the server caps them, structured output with its
fallbacks and one repair, and tools natively or, where the server refuses them, by prompt."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from generation import llm_tool_prompt as tool_prompt
from generation.llm.base import ClientBase
from generation.llm.errors import PermanentLLMError, StructuredOutputError, n_limit
from generation.llm.records import Call, Completion
from generation.llm.structured import (
    MODE_ORDER,
    check,
    repair_messages,
    response_format,
    validator_for,
    weaker_mode,
    with_schema,
)
from generation.llm_parse import Choices, parse_chat

T = TypeVar("T")
CHAT = "/chat/completions"


class ChatCalls(ClientBase):
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
        params = sampling(
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
        call = Call(model or self.config.model)
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
        call: Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        json_schema: dict[str, Any] | None,
        schema_name: str,
    ) -> tuple[Choices, list[Any] | None]:
        if json_schema is None:
            return await self._choices(call, messages, n, params, None), None
        return await self._structured(call, messages, n, params, json_schema, schema_name)

    async def _choices(
        self,
        call: Call,
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
        call: Call,
        messages: list[dict[str, Any]],
        sizes: list[int],
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
        offset: int = 0,
    ) -> Choices:
        """Requests for these numbers of choices, in parallel. The seed varies per request
        (seed + offset + i), so that seeded servers do not hand back copies of one sample."""
        if len(sizes) == 1 and not offset:  # the common case: no tasks to gather
            return await self._chat_once(call, messages, sizes[0], params, response_format)
        seed = params.get("seed")
        got = Choices()
        for more in await gather(
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
        call: Call,
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
        call: Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        response_format: dict[str, Any] | None,
    ) -> Choices:
        body = {"model": call.model, "messages": messages, **params}
        if n > 1:
            body["n"] = n
        if response_format is not None:
            body["response_format"] = response_format
        estimate = estimate_tokens(messages) + int(params.get("max_tokens") or 0) * n
        if params.get("tools"):
            estimate += len(json.dumps(params["tools"])) // 4
        return await self._request(call, CHAT, body, parse_chat, estimate)

    # -- structured output -------------------------------------------------------------------

    async def _structured(
        self,
        call: Call,
        messages: list[dict[str, Any]],
        n: int,
        params: dict[str, Any],
        schema: dict[str, Any],
        name: str,
    ) -> tuple[Choices, list[Any]]:
        validator = validator_for(schema)
        while True:
            mode = self.structured_mode
            request = with_schema(messages, schema) if mode != "json_schema" else messages
            fmt = response_format(mode, schema, name)
            try:
                choices = await self._choices(call, request, n, params, fmt)
            except PermanentLLMError as exc:
                weaker = weaker_mode(mode, exc, self._confirmed_modes)
                if weaker is None:
                    raise
                if MODE_ORDER.index(weaker) > MODE_ORDER.index(self.structured_mode):
                    self.structured_mode = weaker  # only ever steps down, even under concurrency
                continue
            self._confirmed_modes.add(mode)
            break
        repair_params = {k: v for k, v in params.items() if k not in ("logprobs", "top_logprobs")}
        checked = await gather(
            self._check_or_repair(call, request, text, validator, repair_params, fmt)
            if not calls
            else _as_is(text)  # a tool call instead of the answer: nothing to validate yet
            for text, calls in zip(choices.texts, choices.tool_calls, strict=True)
        )
        for index, (text, _value, finish_reason) in enumerate(checked):
            if text != choices.texts[index]:  # repaired: show what was accepted
                choices.texts[index], choices.finish_reasons[index] = text, finish_reason
                choices.logprobs[index] = None
        return choices, [value for _text, value, _finish in checked]

    async def _check_or_repair(
        self,
        call: Call,
        request: list[dict[str, Any]],
        text: str,
        validator: Any,
        params: dict[str, Any],
        fmt: dict[str, Any] | None,
    ) -> tuple[str, Any, str]:
        value, problem = check(text, validator)
        if problem is None:
            return text, value, "stop"
        repair = repair_messages(request, text, problem)
        fixed = await self._chat_once(call, repair, 1, params, fmt)
        value, problem = check(fixed.texts[0], validator)
        if problem is not None:
            raise StructuredOutputError(f"output still invalid after one repair: {problem}")
        return fixed.texts[0], value, fixed.finish_reasons[0]


async def gather(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
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


def sampling(**options: Any) -> dict[str, Any]:
    """The request options that were given; an unset option is left to the server."""
    return {key: value for key, value in options.items() if value is not None}


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return chars // 4 + 1


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
