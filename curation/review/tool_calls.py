"""Tool trajectories in review: call blocks, the checker's verdict per call, argument edits.

A sample's assistant messages may carry OpenAI `tool_calls` ({id, type, function: {name,
arguments: JSON text}}); `tool` messages answer them by `tool_call_id`. The review page
shows each call as a block (name, pretty-printed arguments, its result) with the BFCL AST
checker's verdict (generation.tools.bfcl, a pure leaf library): against the sample's BFCL
possible answers when it has them (`extra["bfcl"]`), else against the tools' docs alone.

An edit of a call's arguments (the page's `c` key, or the API's `messages` / `tool_calls`)
must be a JSON object that passes the docs check for that tool: the function is one of the
sample's tools, required parameters are there, no unknown parameter (unless the schema says
`additionalProperties: true`), basic types. Anything else is refused with the reason and
nothing is saved. A valid edit is saved as a SampleRevision like any other edit.
"""

from __future__ import annotations

import json
from typing import Any

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from generation.tools import bfcl

Msgs = list[dict[str, Any]]


class InvalidToolCall(ServiceError):
    """Edited call arguments that are not JSON or break the tool's schema (the API: 400)."""


def _pretty(arguments: Any) -> tuple[str, bool]:
    """(the arguments as indented JSON, whether they parsed); the raw text when they do not."""
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return str(arguments), False
    return json.dumps(parsed, indent=2, ensure_ascii=False), True


def _verdicts(sample: Sample) -> dict[int, list[dict[str, Any]]]:
    """Per assistant message index, per call: {"valid", "problems": [text]}."""
    out: dict[int, list[dict[str, Any]]] = {}
    tools = list(sample.tools or [])
    gold, _, _ = bfcl.stored_item(sample.extra or {})
    answer: int | None = None
    if gold is not None:
        try:
            question, _ = bfcl.split(sample.messages)
            answer = len(question)
        except bfcl.NotOneStep:
            answer = None
    for i, m in enumerate(sample.messages):
        if m.get("role") != "assistant" or not m.get("tool_calls"):
            continue
        try:
            calls = bfcl.calls_from_openai(m["tool_calls"])
            verdict = bfcl.check(calls, tools, gold if i == answer else None)
        except ValueError as exc:
            out[i] = [{"valid": False, "problems": [str(exc)]} for _ in m["tool_calls"]]
            continue
        by_index = {c.index: c for c in verdict.calls}
        rows: list[dict[str, Any]] = []
        for k in range(len(m["tool_calls"])):
            cv = by_index.get(k)
            problems = [p.message for p in cv.problems] if cv else ["not checked"]
            rows.append({"valid": bool(cv and cv.valid), "problems": problems})
        if verdict.problems and rows:  # about the step: counts, expected calls not made
            rows[-1]["problems"] = rows[-1]["problems"] + [p.message for p in verdict.problems]
            rows[-1]["valid"] = False
        out[i] = rows
    return out


def _at(rows: list[dict[str, Any]] | None, k: int) -> dict[str, Any] | None:
    return rows[k] if rows and k < len(rows) else None


def blocks(sample: Sample) -> dict[int, list[dict[str, Any]]]:
    """Per message index, the call blocks the page shows (all text escaped by the template)."""
    results = {
        m.get("tool_call_id"): (i, m.get("content"))
        for i, m in enumerate(sample.messages)
        if m.get("role") == "tool" and m.get("tool_call_id")
    }
    verdicts = _verdicts(sample)
    out: dict[int, list[dict[str, Any]]] = {}
    for i, m in enumerate(sample.messages):
        calls = m.get("tool_calls") if m.get("role") == "assistant" else None
        if not isinstance(calls, list):
            continue
        rows = []
        for k, c in enumerate(calls):
            fn = c.get("function") if isinstance(c, dict) else None
            fn = fn if isinstance(fn, dict) else {}
            pretty, parsed = _pretty(fn.get("arguments"))
            result = results.get(c.get("id")) if isinstance(c, dict) else None
            rows.append(
                {
                    "index": k,
                    "id": str(c.get("id") or "") if isinstance(c, dict) else "",
                    "name": str(fn.get("name") or ""),
                    "arguments": pretty,
                    "parsed": parsed,
                    "result": None if result is None else str(result[1]),
                    "result_index": None if result is None else result[0],
                    "verdict": _at(verdicts.get(i), k),
                }
            )
        out[i] = rows
    return out


def _allows_extra(tools: list[Any], name: str) -> bool:
    doc = bfcl.function_docs(tools).get(name) or {}
    params = doc.get("parameters")
    return isinstance(params, dict) and params.get("additionalProperties") not in (None, False)


def check_arguments(tools: list[Any], name: str, arguments: Any, where: str) -> None:
    """Raise InvalidToolCall unless `arguments` (a JSON object, or its text) fits the tool."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise InvalidToolCall(
                f"{where}: the arguments are not valid JSON ({exc.msg})."
            ) from None
    if not isinstance(arguments, dict):
        raise InvalidToolCall(f"{where}: the arguments must be a JSON object.")
    verdict = bfcl.check([bfcl.Call(name, arguments)], tools, None)
    problems = [
        p for cv in verdict.calls for p in cv.problems
        if not (p.code == "unknown_parameter" and _allows_extra(tools, name))
    ]  # fmt: skip
    if problems:
        raise InvalidToolCall(f"{where}: " + "; ".join(p.message for p in problems) + ".")


def _calls(m: dict[str, Any]) -> list[dict[str, Any]]:
    calls = m.get("tool_calls") if m.get("role") == "assistant" else None
    return calls if isinstance(calls, list) else []


def checked_edits(sample: Sample, messages: Msgs | None) -> None:
    """Validate every call whose name or arguments an edit changed (the others stay as the
    model wrote them, right or wrong: the verdict shows them)."""
    if messages is None:
        return
    tools = list(sample.tools or [])
    before = {(i, k): c for i, m in enumerate(sample.messages) for k, c in enumerate(_calls(m))}
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        for k, c in enumerate(_calls(m)):
            if isinstance(c, dict) and c == before.get((i, k)):
                continue
            fn = c.get("function") if isinstance(c, dict) else None
            where = f"Message {i}, call {k + 1}"
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise InvalidToolCall(f"{where}: a call needs function.name and arguments.")
            check_arguments(tools, fn["name"], fn.get("arguments", "{}"), where)


def with_arguments(messages: Msgs, edits: dict[str, Any]) -> Msgs:
    """The messages with edited call arguments: {"<message index>": [{"id", "arguments"}]}."""
    out = [dict(m) for m in messages]
    for key, changes in edits.items():
        i = int(key) if str(key).isdigit() else -1
        if not 0 <= i < len(out) or not _calls(out[i]):
            raise InvalidToolCall(f"tool_calls: message {key!r} is not an assistant tool call.")
        if not isinstance(changes, list):
            raise InvalidToolCall(f'tool_calls["{key}"] must be a list of {{"id", "arguments"}}.')
        calls = [dict(c) for c in _calls(out[i])]
        for change in changes:
            cid = change.get("id") if isinstance(change, dict) else None
            k = next((n for n, c in enumerate(calls) if c.get("id") == cid), None)
            if k is None or not isinstance(change, dict) or "arguments" not in change:
                raise InvalidToolCall(f"tool_calls[{key!r}]: no call with id {cid!r}.")
            args = change["arguments"]
            text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            calls[k] = {**calls[k], "function": {**calls[k]["function"], "arguments": text}}
        out[i]["tool_calls"] = calls
    return out
