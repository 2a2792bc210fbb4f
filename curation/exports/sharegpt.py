"""ShareGPT with function turns, LLaMA-Factory's convention, both ways (no Django here).

`conversations` holds turns whose `from` is human, gpt, system, function_call or
observation. A `function_call` turn's `value` is the JSON text `{"name": ..., "arguments":
{...}}`; an assistant turn with parallel calls becomes one function_call turn holding a JSON
list of those objects (LLaMA-Factory reads a list as parallel calls, and its converter wants
human/observation and gpt/function_call to alternate, so each must stay one turn). Each tool
result is an `observation` turn; the results of parallel calls share one observation turn
whose value is the JSON list of their texts. The top-level `tools` column is the tools as
JSON text: function docs (`{"name", "description", "parameters"}`), as in LLaMA-Factory's
own tool-calling data.

Call ids are not part of the convention: an import numbers the calls `call_1`, `call_2`...
and pairs each observation with the calls of the function_call turn before it.
"""

from __future__ import annotations

import json
from typing import Any

Msgs = list[dict[str, Any]]
Turns = list[dict[str, Any]]

TO_SHAREGPT = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}
FROM_SHAREGPT = {v: k for k, v in TO_SHAREGPT.items()} | {
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}


class Unfit(Exception):
    """A sample that cannot be written as ShareGPT; the message is the manifest's reason."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _call(call: Any) -> dict[str, Any]:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise Unfit("tool_call_without_function")
    args = fn.get("arguments")
    try:
        parsed = json.loads(args) if isinstance(args, str) else args
    except json.JSONDecodeError:
        raise Unfit("tool_arguments_not_json") from None
    return {"name": fn["name"], "arguments": parsed if parsed is not None else {}}


def to_turns(messages: Msgs) -> Turns:
    turns: Turns = []
    pending = 0  # results still expected for the last function_call turn
    results: list[str] = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role == "tool":
            if not isinstance(content, str):
                raise Unfit("content_not_text")
            results.append(content)
            if len(results) == pending:
                value = results[0] if pending == 1 else _dumps(results)
                turns.append({"from": "observation", "value": value})
                pending, results = 0, []
            continue
        if pending:
            raise Unfit("tool_results_do_not_match_calls")
        if role not in TO_SHAREGPT:
            raise Unfit("role_not_in_sharegpt")
        if role == "assistant" and m.get("tool_calls"):
            if content:  # the convention has no place for text beside a call
                raise Unfit("text_beside_tool_calls_needs_openai_format")
            calls = [_call(c) for c in m["tool_calls"]]
            value = _dumps(calls[0] if len(calls) == 1 else calls)
            turns.append({"from": "function_call", "value": value})
            pending = len(calls)
            continue
        if not isinstance(content, str):
            raise Unfit("content_not_text")
        turns.append({"from": TO_SHAREGPT[role], "value": content})
    if pending:
        raise Unfit("tool_results_do_not_match_calls")
    return turns


def tools_text(tools: list[Any]) -> str:
    docs = [t["function"] if _is_function_tool(t) else t for t in tools]
    return _dumps(docs)


def _is_function_tool(t: Any) -> bool:
    return (
        isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)
    )


def tools_from_text(value: Any) -> list[dict[str, Any]] | None:
    """The OpenAI tools list of a `tools` column (JSON text or a list); raises ValueError."""
    if value is None or value == "":
        return None
    docs = json.loads(value) if isinstance(value, str) else value
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise ValueError("field 'tools' must be a list of objects")
    return [d if "type" in d else {"type": "function", "function": d} for d in docs]


def from_turns(turns: Turns, where: str) -> Msgs:
    """OpenAI messages of ShareGPT turns; raises ValueError with a located reason."""
    messages: Msgs = []
    ids: list[str] = []
    n = 0
    for i, t in enumerate(turns):
        at = f"{where}: conversations[{i}]"
        if not isinstance(t, dict) or t.get("from") not in (*FROM_SHAREGPT, "function_call"):
            raise ValueError(
                f"{at}.from must be one of human, gpt, system, function_call, observation"
            )
        value = t.get("value")
        if not isinstance(value, str):
            raise ValueError(f"{at}: field 'value' must be a string")
        if t["from"] == "function_call":
            calls, ids = _calls_of(value, at), []
            tool_calls = []
            for c in calls:
                n += 1
                ids.append(f"call_{n}")
                tool_calls.append(
                    {
                        "id": ids[-1],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": _dumps(c["arguments"])},
                    }
                )
            messages.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
        elif FROM_SHAREGPT[t["from"]] == "tool" and ids:
            texts = _results_of(value, len(ids), at)
            messages += [
                {"role": "tool", "tool_call_id": cid, "content": x}
                for cid, x in zip(ids, texts, strict=True)
            ]
            ids = []
        else:
            messages.append({"role": FROM_SHAREGPT[t["from"]], "content": value})
    return messages


def _calls_of(value: str, at: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(f"{at}: a function_call value must be JSON") from None
    calls = parsed if isinstance(parsed, list) else [parsed]
    for c in calls:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str)):
            raise ValueError(
                f'{at}: a function_call value must be {{"name": ..., "arguments": ...}}'
            )
        args = c.get("arguments", {})
        if isinstance(args, str):  # some datasets keep the arguments as JSON text
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise ValueError(f"{at}: the arguments must be JSON") from None
        c["arguments"] = args
    return calls


def _results_of(value: str, count: int, at: str) -> list[str]:
    if count == 1:
        return [value]
    try:
        texts = json.loads(value)
    except json.JSONDecodeError:
        texts = None
    if not (
        isinstance(texts, list) and len(texts) == count and all(isinstance(x, str) for x in texts)
    ):
        raise ValueError(
            f"{at}: the observation of {count} parallel calls must be a JSON list of {count} texts"
        )
    return texts
