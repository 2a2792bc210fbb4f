"""Tool calls through generation.llm, against the fake OpenAI-compatible server over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest

from generation.llm import Completion, EndpointConfig, LLMClient, ToolCall
from generation.llm_tools import parse_tool_calls
from tests.fakes.openai_server import FakeOpenAI

T = TypeVar("T")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city", "days"],
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def run(fake: FakeOpenAI, use: Callable[[LLMClient], Awaitable[T]], **config: Any) -> T:
    async def main() -> T:
        options = {"max_retries": 0, **config}
        async with LLMClient(EndpointConfig(fake.base_url, model="m", **options)) as client:
            return await use(client)

    return asyncio.run(main())


def ask(**kwargs: Any) -> Callable[[LLMClient], Awaitable[Completion]]:
    return lambda client: client.complete(kwargs.pop("messages", ASK), **kwargs)


def test_the_request_carries_the_tools_and_the_reply_tool_calls_are_parsed(
    fake_llm: FakeOpenAI,
) -> None:
    call = {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris", "days": 2}}
    fake_llm.script("weather", {"content": None, "tool_calls": [call]})

    done = run(fake_llm, ask(tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False))

    sent = fake_llm.requests[-1]
    assert (sent["tools"], sent["tool_choice"], sent["parallel_tool_calls"]) == (
        [WEATHER],
        "auto",
        False,
    )
    [[got]] = done.tool_calls
    assert got == ToolCall(
        id="call_1",
        name="get_weather",
        arguments_json='{"city": "Paris", "days": 2}',
        arguments={"city": "Paris", "days": 2},
    )
    assert (done.texts, done.finish_reasons) == ([""], ["tool_calls"])


def test_a_message_with_null_content_and_tool_calls_reads_as_empty_text(
    fake_llm: FakeOpenAI,
) -> None:
    body = {"model": "m", "messages": ASK, "tools": [WEATHER]}
    raw = httpx.post(f"{fake_llm.base_url}/chat/completions", json=body, timeout=10).json()
    assert raw["choices"][0]["message"]["content"] is None

    done = run(fake_llm, ask(tools=[WEATHER]))

    assert done.texts == [""]
    assert done.tool_calls[0][0].name == "get_weather"


def test_invalid_json_arguments_give_no_arguments_and_a_reason_not_an_exception(
    fake_llm: FakeOpenAI,
) -> None:
    broken = [
        {"name": "get_weather", "arguments": '{"city": "Paris",'},
        {"name": "get_weather", "arguments": "[1, 2]"},
        {"name": "get_time", "arguments": ""},
    ]
    fake_llm.script("weather", {"content": "Let me check.", "tool_calls": broken})

    done = run(fake_llm, ask(tools=[WEATHER, CLOCK]))

    cut, listed, empty = done.tool_calls[0]
    assert (cut.arguments, cut.arguments_json) == (None, '{"city": "Paris",')
    assert "not valid JSON" in cut.arguments_error
    assert listed.arguments is None and "not an object" in listed.arguments_error
    assert (empty.arguments, empty.arguments_error) == ({}, "")
    assert done.texts == ["Let me check."]


def test_the_unscripted_fake_calls_the_first_tool_with_arguments_that_fit_its_schema(
    fake_llm: FakeOpenAI,
) -> None:
    done = run(fake_llm, ask(tools=[WEATHER, CLOCK]))
    again = run(fake_llm, ask(tools=[WEATHER, CLOCK]))
    forced = run(
        fake_llm,
        ask(
            tools=[WEATHER, CLOCK],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        ),
    )

    [[call]] = done.tool_calls
    assert call.name == "get_weather"
    jsonschema.validate(call.arguments, WEATHER["function"]["parameters"])  # type: ignore[index]
    assert again.tool_calls == done.tool_calls  # deterministic
    assert forced.tool_calls[0][0].name == "get_time"
    assert forced.tool_calls[0][0].arguments == {}


def test_message_turns_a_choice_back_into_a_turn_that_lets_an_agent_loop_finish(
    fake_llm: FakeOpenAI,
) -> None:
    async def loop(client: LLMClient) -> tuple[Completion, Completion, dict[str, Any]]:
        first = await client.complete(ASK, tools=[WEATHER])
        turn = first.message(0)
        messages = [*ASK, turn, first.tool_calls[0][0].result("Sunny, 24 °C")]
        return first, await client.complete(messages, tools=[WEATHER]), turn

    first, second, turn = run(fake_llm, loop)

    call = first.tool_calls[0][0]
    assert turn == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": call.arguments_json},
            }
        ],
    }
    sent = fake_llm.requests[-1]["messages"]
    assert sent[1] == turn
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 24 °C"}
    assert second.tool_calls == [[]]
    assert second.texts[0].startswith("Answer ")
    assert second.message(0) == {"role": "assistant", "content": second.texts[0]}


def test_a_plain_completion_has_an_empty_tool_call_list_per_choice(fake_llm: FakeOpenAI) -> None:
    done = run(fake_llm, ask(n=3, tool_choice="required"))

    assert done.tool_calls == [[], [], []]
    assert "tool_choice" not in fake_llm.requests[-1]  # without tools it means nothing
    assert done.message(2) == {"role": "assistant", "content": done.texts[2]}


def test_choices_filled_in_by_single_calls_keep_their_tool_calls(fake_llm: FakeOpenAI) -> None:
    fake_llm.disable("n")

    done = run(fake_llm, ask(tools=[WEATHER], n=3))

    assert len(fake_llm.requests) == 3
    assert [len(calls) for calls in done.tool_calls] == [1, 1, 1]


def test_a_choice_that_calls_a_tool_is_not_validated_against_the_json_schema(
    fake_llm: FakeOpenAI,
) -> None:
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}

    done = run(fake_llm, ask(tools=[WEATHER], json_schema=schema))

    assert done.parsed == [None]
    assert done.tool_calls[0][0].name == "get_weather"
    assert len(fake_llm.requests) == 1  # no repair attempt


def test_a_server_without_tools_is_asked_by_prompt_instead(fake_llm: FakeOpenAI) -> None:
    fake_llm.disable("tools")

    done = run(fake_llm, ask(tools=[WEATHER]))

    # The native request is refused (400 "tools is not supported"); the same call is then
    # sent with the tools in the system message (tests/generation/test_llm_tool_prompt.py).
    refused, prompted = fake_llm.requests
    assert "tools" in refused and "tools" not in prompted
    assert done.texts[0].startswith("Answer ") and done.tool_calls == [[]]


def test_the_envelope_is_the_servers_and_the_arguments_are_the_models() -> None:
    with pytest.raises(ValueError, match="not a list"):
        parse_tool_calls({"name": "x"})
    with pytest.raises(ValueError, match="no function"):
        parse_tool_calls([{"id": "a", "name": "x"}])

    as_object, deep = parse_tool_calls(
        [
            {"function": {"name": "f", "arguments": {"q": 1}}},  # some servers send an object
            {"id": "b", "function": {"name": "g", "arguments": "[" * 100_000}},
        ]
    )

    assert (as_object.id, as_object.arguments, json.loads(as_object.arguments_json)) == (
        "call_0",
        {"q": 1},
        {"q": 1},
    )
    assert deep.arguments is None and deep.arguments_error
