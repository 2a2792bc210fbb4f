"""The checker over stored samples: OpenAI messages with `tool_calls`, plus `tools`.

A sample's BFCL item is its first call step: the messages before the first assistant turn
that calls tools (the question) and that turn's calls (the answer). A sample with no call
answers with its last assistant turn, or with nothing when it ends on the question. Its
possible answers and category, when it has them, are in extra["bfcl"] (a BFCL import).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from generation.tools.bfcl.checker import Verdict, check
from generation.tools.bfcl.gold import Call, calls_from_openai

Message = Mapping[str, Any]


class NotOneStep(ValueError):
    """A sample that is not one BFCL item; the message is a short reason code."""


def split(messages: Sequence[Message]) -> tuple[list[Message], Message | None]:
    """(the question, the assistant turn that answers it, or None)."""
    for i, m in enumerate(messages):
        if m.get("role") == "assistant" and m.get("tool_calls"):
            if any(x.get("role") == "assistant" and x.get("tool_calls") for x in messages[i + 1 :]):
                raise NotOneStep("several_call_steps")
            return list(messages[:i]), m
    if messages and messages[-1].get("role") == "assistant":
        return list(messages[:-1]), messages[-1]
    return list(messages), None


def calls_of(answer: Message | None) -> list[Call]:
    if answer is None or not answer.get("tool_calls"):
        return []
    try:
        return calls_from_openai(answer["tool_calls"])
    except ValueError:
        raise NotOneStep("tool_calls_malformed") from None


def stored_item(extra: Mapping[str, Any]) -> tuple[list[Any] | None, str, str]:
    """(possible answers or None, category, BFCL id) kept with a sample."""
    item = extra.get("bfcl")
    if not isinstance(item, dict):
        return None, "", ""
    gold = item.get("ground_truth")
    return (
        gold if isinstance(gold, list) else None,
        str(item.get("category") or ""),
        str(item.get("id") or ""),
    )


def verdict_of(
    messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] | None, extra: Mapping[str, Any]
) -> Verdict | None:
    """The checker's verdict on a sample; None when there is nothing to check (no call and
    no possible answers). Raises NotOneStep for a sample that is not one BFCL item."""
    gold, category, _ = stored_item(extra)
    _, answer = split(messages)
    calls = calls_of(answer)
    if not calls and gold is None:
        return None
    try:
        return check(calls, list(tools or []), gold, category)
    except ValueError as exc:
        raise NotOneStep("ground_truth_malformed") from exc


def evaluate(
    samples: Iterable[tuple[Any, Sequence[Message], Any, Mapping[str, Any]]], failures: int = 50
) -> dict[str, Any]:
    """Accuracy over (id, messages, tools, extra) rows, in all and per category, with the
    first `failures` failed items and their reasons."""
    totals: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    failed: list[dict[str, Any]] = []
    for key, messages, tools, extra in samples:
        try:
            verdict = verdict_of(messages, tools, extra)
        except NotOneStep as exc:
            skipped[str(exc)] += 1
            continue
        if verdict is None:
            skipped["nothing_to_check"] += 1
            continue
        category = verdict.category or "docs_only"
        totals[category] += 1
        if verdict.valid:
            passed[category] += 1
        elif len(failed) < failures:
            failed.append({"id": key, "category": category, "reasons": verdict.reasons})
    checked = sum(totals.values())
    return {
        "checked": checked,
        "valid": sum(passed.values()),
        "accuracy": round(sum(passed.values()) / checked, 4) if checked else None,
        "by_category": {
            c: {"checked": n, "valid": passed[c], "accuracy": round(passed[c] / n, 4)}
            for c, n in sorted(totals.items())
        },
        "skipped": dict(sorted(skipped.items())),
        "failures": failed,
    }
