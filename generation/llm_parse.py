"""Reading a server's replies, for `generation.llm`: choices, output-token logprobs, embeddings.

A 200 whose body is not what was asked for raises `Malformed` (a ValueError), which the caller
counts as a transient failure: a broken proxy or a server bug.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from typing import Any

from generation.llm_tools import ToolCall, parse_tool_calls


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: dict[str, float]  # the top alternatives, when asked for


@dataclass
class Choices:
    texts: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    logprobs: list[list[TokenLogprob] | None] = field(default_factory=list)
    tool_calls: list[list[ToolCall]] = field(default_factory=list)

    def extend(self, other: Choices) -> None:
        self.texts += other.texts
        self.finish_reasons += other.finish_reasons
        self.logprobs += other.logprobs
        self.tool_calls += other.tool_calls

    def first(self, n: int) -> Choices:
        return Choices(
            self.texts[:n], self.finish_reasons[:n], self.logprobs[:n], self.tool_calls[:n]
        )


class Malformed(ValueError):
    """A 200 whose body is not the JSON we asked for: a broken proxy or a server bug."""


def parse_chat(data: dict[str, Any]) -> Choices:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise Malformed("no choices in the response")
    got = Choices()
    try:
        for choice in sorted(choices, key=lambda c: int(c.get("index") or 0)):
            message = choice.get("message") or {}
            content = message.get("content")  # null when the model only calls tools
            if content is not None and not isinstance(content, str):
                raise Malformed("message content is not text")
            got.texts.append(content or "")
            got.finish_reasons.append(str(choice.get("finish_reason") or ""))
            got.logprobs.append(parse_logprobs(choice.get("logprobs")))
            got.tool_calls.append(parse_tool_calls(message.get("tool_calls")))
    except (AttributeError, KeyError, TypeError) as exc:
        raise Malformed(f"not a chat completion ({type(exc).__name__}: {exc})") from exc
    return got


def whole(data: dict[str, Any]) -> dict[str, Any]:
    return data


def parse_models(data: dict[str, Any]) -> list[str]:
    items = data.get("data")
    if not isinstance(items, list):
        raise Malformed("not a model list")
    return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]


def parse_text(data: dict[str, Any]) -> Choices:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise Malformed("no choices in the response")
    got = Choices()
    try:
        for choice in sorted(choices, key=lambda c: int(c.get("index") or 0)):
            text = choice.get("text")
            if not isinstance(text, str):
                raise Malformed("choice text is not text")
            got.texts.append(text)
            got.finish_reasons.append(str(choice.get("finish_reason") or ""))
            got.logprobs.append(None)
            got.tool_calls.append([])
    except (AttributeError, KeyError, TypeError) as exc:
        raise Malformed(f"not a text completion ({type(exc).__name__}: {exc})") from exc
    return got


def parse_logprobs(raw: Any) -> list[TokenLogprob] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("content"), list):
        return None
    return [
        TokenLogprob(
            token=str(item["token"]),
            logprob=float(item["logprob"]),
            top={
                str(alt["token"]): float(alt["logprob"]) for alt in item.get("top_logprobs") or []
            },
        )
        for item in raw["content"]
    ]


def parse_embeddings(data: dict[str, Any], expected: int) -> list[list[float]]:
    vectors: list[list[float] | None] = [None] * expected
    try:
        for item in data["data"]:
            embedding = item["embedding"]
            if isinstance(embedding, str):  # base64 float32, from servers that ignore our format
                raw = base64.b64decode(embedding)
                embedding = struct.unpack(f"<{len(raw) // 4}f", raw)
            vectors[int(item["index"])] = [float(x) for x in embedding]
    except (KeyError, TypeError, IndexError, struct.error) as exc:
        raise Malformed(f"not an embeddings response ({type(exc).__name__}: {exc})") from exc
    if any(v is None for v in vectors):
        raise Malformed(f"expected {expected} embeddings, some are missing")
    return [v for v in vectors if v is not None]
