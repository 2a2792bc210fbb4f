"""Rows of each export format, from plain sample data (no Django here).

Each SFT builder takes a `Src` and returns the row, or a short reason string when the
sample cannot be written in that format (the manifest counts the reasons). Pair formats
take a `Pair`. Rows are written by orjson: compact UTF-8 JSON, keys in the order built
here, so the same data always gives the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from curation.exports import bfcl, sharegpt

Msgs = list[dict[str, Any]]
Row = dict[str, Any]

SFT_FORMATS = ("openai", "sharegpt", "alpaca")
PAIR_FORMATS = ("dpo", "dpo_conversational")
TRAJECTORY_FORMATS = ("step_labels", "trajectory_pairs")  # trajectories.py
ALL_FORMATS = (*SFT_FORMATS, *PAIR_FORMATS, "kto", "classification", "bfcl", *TRAJECTORY_FORMATS)


@dataclass(slots=True)
class Src:
    """The fields of one sample that the formats read."""

    id: int
    kind: str
    messages: Msgs
    tools: list[Any] | None = None
    chosen: Msgs | None = None
    rejected: Msgs | None = None
    label: str = ""
    status: str = ""
    origin: str = ""  # the sample's own lineage: run | import | edit
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Pair:
    prompt: Msgs
    chosen: Msgs
    rejected: Msgs
    source: str
    sample_ids: tuple[int, ...]
    score_chosen: float | None = None
    score_rejected: float | None = None
    tools: list[Any] | None = None  # trajectories: the tools the sides call (conversational)


def dumps(row: Row) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)


def _ends_with_answer(messages: Msgs) -> bool:
    return bool(messages) and messages[-1].get("role") == "assistant"


def sft_messages(s: Src) -> Msgs | str:
    """The conversation an SFT row holds: a preference sample contributes prompt + chosen."""
    messages = s.messages + s.chosen if s.kind == "preference" and s.chosen else s.messages
    return messages if _ends_with_answer(messages) else "no_assistant_turn"


def ends_with_call_results(messages: Msgs) -> bool:
    """An agent trajectory that ends on the results of its last calls (e.g. `finish`): the
    trailing tool messages answer the calls of the assistant turn before them."""
    end = len(messages)
    while end > 0 and messages[end - 1].get("role") == "tool":
        end -= 1
    if end == len(messages) or end == 0 or messages[end - 1].get("role") != "assistant":
        return False
    calls = messages[end - 1].get("tool_calls")
    ids = {c.get("id") for c in calls if isinstance(c, dict)} if isinstance(calls, list) else set()
    return bool(ids) and all(m.get("tool_call_id") in ids for m in messages[end:])


def openai_row(s: Src) -> Row | str:
    messages = sft_messages(s)
    if isinstance(messages, str) and s.kind == "tool_trajectory":
        # OpenAI messages hold a trajectory that ends on its last call's result as it is.
        messages = s.messages if ends_with_call_results(s.messages) else messages
    if isinstance(messages, str):
        return messages
    row: Row = {"messages": messages}
    if s.tools:
        row["tools"] = s.tools
    return row


def sharegpt_row(s: Src) -> Row | str:
    """LLaMA-Factory's ShareGPT; tool calls as function_call / observation turns (sharegpt.py)."""
    messages = sft_messages(s)
    if isinstance(messages, str):
        return messages
    try:
        row: Row = {"conversations": sharegpt.to_turns(messages)}
    except sharegpt.Unfit as e:
        return str(e)
    if s.tools:
        row["tools"] = sharegpt.tools_text(s.tools)
    return row


def alpaca_row(s: Src) -> Row | str:
    messages = sft_messages(s)
    if isinstance(messages, str):
        return messages
    system = None
    if messages[0].get("role") == "system":
        system, messages = messages[0].get("content"), messages[1:]
    if len(messages) != 2 or messages[0].get("role") != "user":
        return "not_single_turn"
    user, output = messages[0].get("content"), messages[1].get("content")
    if not isinstance(user, str) or not isinstance(output, str) or messages[1].get("tool_calls"):
        return "content_not_text"
    instruction, given = user, ""
    # Self-Instruct and imported Alpaca rows keep the split; use it while the text still matches.
    known, known_input = s.extra.get("instruction"), s.extra.get("input") or ""
    joined = f"{known}\n\n{known_input}" if known_input else known
    if isinstance(known, str) and isinstance(known_input, str) and user == joined:
        instruction, given = known, known_input
    row: Row = {"instruction": instruction, "input": given, "output": output}
    if isinstance(system, str):
        row["system"] = system
    return row


def classification_row(s: Src) -> Row | str:
    if not s.label:
        return "no_label"
    texts = [m["content"] for m in s.messages if m.get("role") == "user" and m.get("content")]
    if not texts:
        return "no_text"
    return {"text": "\n\n".join(texts), "label": s.label}


SFT_ROW = {
    "openai": openai_row,
    "sharegpt": sharegpt_row,
    "alpaca": alpaca_row,
    "classification": classification_row,
    "bfcl": bfcl.row,
}


def _single_text(messages: Msgs, role: str) -> str | None:
    if len(messages) != 1 or messages[0].get("role") != role or messages[0].get("tool_calls"):
        return None
    content = messages[0].get("content")
    return content if isinstance(content, str) else None


def dpo_row(p: Pair, *, conversational: bool, scores: bool, source: bool) -> Row | str:
    row: Row
    if conversational:
        row = {"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}
    else:
        prompt = _single_text(p.prompt, "user")
        chosen = _single_text(p.chosen, "assistant")
        rejected = _single_text(p.rejected, "assistant")
        if prompt is None:
            return "prompt_not_one_user_turn"
        if chosen is None or rejected is None:
            return "answer_not_one_text_turn"
        row = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    if scores:
        row["score_chosen"] = p.score_chosen
        row["score_rejected"] = p.score_rejected
    if source:
        row["source"] = p.source
    if conversational and p.tools:
        row["tools"] = p.tools
    return row


def kto_row(prompt: Msgs, completion: Msgs, label: bool, src: str, *, source: bool) -> Row:
    row: Row = {"prompt": prompt, "completion": completion, "label": label}
    if source:
        row["source"] = src
    return row


def _without_system(turns: Any) -> Any:
    if not isinstance(turns, list):
        return turns
    return [
        t for t in turns if not (isinstance(t, dict) and t.get("role", t.get("from")) == "system")
    ]


def split_key(row: Row, *, system: bool = True) -> bytes:
    """What decides a row's split: its prompt, so every answer to one prompt lands on the
    same side (no prompt leakage between train and validation). `system=False` leaves system
    turns out of it: a version that restores teachers' prompts (or drops them) keeps one
    question's answers together whatever strategy prompt each was written with."""
    if "messages" in row:
        prompt: Any = row["messages"][:-1]
    elif "conversations" in row:
        prompt = row["conversations"][:-1]
    elif "instruction" in row:
        prompt = [row["instruction"], row["input"]]
    elif "text" in row:
        prompt = row["text"]
    elif "question" in row:  # BFCL: one turn of messages
        prompt = row["question"][0]
    else:
        prompt = row["prompt"]
    if not system:
        prompt = _without_system(prompt)
    return orjson.dumps(prompt, option=orjson.OPT_SORT_KEYS)


def split_of(key: bytes, seed: int, validation: float) -> str:
    digest = hashlib.blake2b(key, digest_size=8, key=str(seed).encode()).digest()
    return "validation" if int.from_bytes(digest) / 2**64 < validation else "train"
