"""Tool calling by prompt where an endpoint has no native tools: the protocol in the system
message, calls read back from <tool_call> blocks, and the client remembers the endpoint."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from generation.llm import EndpointConfig, LLMClient
from generation.llm_tool_prompt import parse_reply, prompted

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ASK = [{"role": "user", "content": "How warm is it in Oslo?"}]
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'


def ask(fake: Any, times: int = 1, **kwargs: Any) -> tuple[list[Any], LLMClient]:
    async def go() -> tuple[list[Any], LLMClient]:
        async with LLMClient(EndpointConfig(base_url=fake.base_url, max_retries=1)) as llm:
            done = [await llm.complete(ASK, tools=[WEATHER], **kwargs) for _ in range(times)]
            return done, llm

    return asyncio.run(go())


def test_an_endpoint_without_tools_gets_them_in_the_system_message(fake_llm: Any) -> None:
    fake_llm.disable("tools")
    fake_llm.script(r"Oslo", CALL)
    (first, second), llm = ask(fake_llm, times=2)
    for done in (first, second):
        (call,) = done.tool_calls[0]
        assert (call.name, call.arguments) == ("get_weather", {"city": "Oslo"})
        assert done.texts == [""] and done.finish_reasons == ["tool_calls"]
    assert llm.tools_mode == "prompt"
    # One refused native request, then two prompted ones without the tools field.
    assert len(fake_llm.requests) == 3
    prompted_requests = fake_llm.requests[1:]
    assert all("tools" not in r for r in prompted_requests)
    system = prompted_requests[0]["messages"][0]
    assert system["role"] == "system" and '"name": "get_weather"' in system["content"]
    assert "<tool_call>" in system["content"]


def test_a_native_endpoint_still_gets_native_tools(fake_llm: Any) -> None:
    (done,), llm = ask(fake_llm)
    assert llm.tools_mode == "native" and fake_llm.requests[0]["tools"] == [WEATHER]
    assert done.tool_calls[0][0].name == "get_weather"


def test_an_answer_without_a_call_stays_text(fake_llm: Any) -> None:
    fake_llm.disable("tools")
    fake_llm.script(r"Oslo", "It is 12 °C in Oslo.")
    (done,), _ = ask(fake_llm, tool_choice="auto")
    assert done.texts == ["It is 12 °C in Oslo."] and done.tool_calls == [[]]


def test_earlier_calls_and_results_are_written_in_the_protocol() -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temperature_c": 12}'},
    ]
    out = prompted(history, [WEATHER], "required")
    assert out[0]["content"].startswith("Be brief.\n\n") and "must call" in out[0]["content"]
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user"]
    assert json.loads(out[2]["content"].removeprefix("<tool_call>").removesuffix("</tool_call>"))[
        "arguments"
    ] == {"city": "Oslo"}
    assert out[3]["content"].startswith('<tool_response name="get_weather">')


def test_broken_blocks_are_kept_with_their_error_and_text_around_them_stays() -> None:
    text, calls = parse_reply(
        f"Let me check.\n{CALL}\n<tool_call>{{oops</tool_call>\n<tool_call>[1]</tool_call>"
    )
    assert text == "Let me check."
    assert [c.name for c in calls] == ["get_weather", "", ""]
    assert calls[0].arguments == {"city": "Oslo"} and calls[0].id == "call_0"
    assert "not valid JSON" in calls[1].arguments_error
    assert "not a JSON object" in calls[2].arguments_error
    _, unclosed = parse_reply('<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}')
    assert unclosed[0].arguments == {"city": "Rome"}
