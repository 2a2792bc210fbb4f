"""Logprobs of a *given* text (METHODS.md §0.2 code PLP), for `generation.llm`.

Servers return them two ways on `/v1/completions`: `echo=True, logprobs=1` (OpenAI's legacy
models, vLLM) as `choices[0].logprobs.{tokens, token_logprobs}`, or vLLM's `prompt_logprobs`
extra parameter as `choices[0].prompt_logprobs`, a list of `{token_id: {logprob, decoded_token}}`
whose first entry is null. Either way the tokens must be matched back onto the text to tell the
prompt from the continuation. The parsers return None when a reply does not carry what was
asked (a server that ignored the option), so the caller can try the other way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

ScoreMethod = Literal["echo", "prompt_logprobs"]


@dataclass(frozen=True)
class ScoredToken:
    token: str
    logprob: float | None  # None for a token without context: the first one, or a BOS marker


@dataclass(frozen=True)
class TextScore:
    """Per-token logprobs of prompt + continuation, and the sum and mean over the scored part:
    the continuation when there is one, else the whole text. A token that straddles the
    boundary counts as continuation. Tokens without a logprob are not counted."""

    tokens: list[ScoredToken]  # the tokens of the text only: no BOS, no generated token
    continuation_start: int  # index into tokens of the first scored token
    sum_logprob: float
    mean_logprob: float | None  # None when no scored token has a logprob
    count: int  # scored tokens that have a logprob
    method: ScoreMethod
    model: str
    tokens_in: int
    cost: Decimal
    latency_ms: int

    @property
    def scored(self) -> list[ScoredToken]:
        return self.tokens[self.continuation_start :]


@dataclass(frozen=True)
class Matched:
    """The tokens of the text, matched onto it."""

    tokens: list[ScoredToken]
    continuation_start: int
    method: ScoreMethod


class NotAligned(Exception):
    """The reply scores the prompt, but its tokens cannot be matched back onto the text."""


def parse_echo(data: dict[str, Any], prompt: str, continuation: str) -> Matched | None:
    text = prompt + continuation
    choice = _first_choice(data)
    logprobs = choice.get("logprobs")
    # A server that ignores `echo` answers with the generated text only, and every generated
    # token has a logprob; an echoed prompt starts with a token that has none.
    if not str(choice.get("text") or "").startswith(text) or not isinstance(logprobs, dict):
        return None
    tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
        return None
    if not values or values[0] is not None:
        return None
    pairs = [ScoredToken(str(t), _float(v)) for t, v in zip(tokens, values, strict=True)]
    return _split(pairs, prompt, text, "echo")


def parse_prompt_logprobs(data: dict[str, Any], prompt: str, continuation: str) -> Matched | None:
    text = prompt + continuation
    choice = _first_choice(data)
    entries = choice.get("prompt_logprobs")
    if not isinstance(entries, list) or not entries:
        return None
    ids = choice.get("prompt_token_ids")
    pairs = []
    for index, entry in enumerate(entries):
        if entry is None:
            pairs.append(ScoredToken("", None))
            continue
        if not isinstance(entry, dict) or not entry:
            return None
        # The prompt token itself: by id where the server says which, else vLLM puts it first.
        key = str(ids[index]) if isinstance(ids, list) and index < len(ids) else next(iter(entry))
        info = entry.get(key)
        if not isinstance(info, dict) or info.get("logprob") is None:
            return None
        pairs.append(ScoredToken(str(info.get("decoded_token") or ""), _float(info["logprob"])))
    # The first entry is null and names no token: it is whatever the others leave of the text.
    rest = "".join(p.token for p in pairs[1:])
    if pairs[0].token == "" and text.endswith(rest):
        pairs[0] = ScoredToken(text[: len(text) - len(rest)], pairs[0].logprob)
    return _split(pairs, prompt, text, "prompt_logprobs")


def summarise(found: Matched) -> tuple[float, float | None, int]:
    values = [t.logprob for t in found.tokens[found.continuation_start :] if t.logprob is not None]
    total = sum(values)
    return total, (total / len(values) if values else None), len(values)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except TypeError as exc:  # the caller treats ValueError as a malformed reply
        raise ValueError(f"a logprob is not a number: {value!r:.40}") from exc


def _first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no choices in the response")
    first: dict[str, Any] = choices[0]
    return first


def _split(pairs: list[ScoredToken], prompt: str, text: str, method: ScoreMethod) -> Matched:
    """The tokens that make up `text`, and where its continuation starts. Matched exactly
    first; then ignoring whitespace, which some tokenizers drop when they decode one token at
    a time."""
    for keep in (_any_char, _not_space):
        found = _locate([p.token for p in pairs], prompt, text, keep)
        if found is not None:
            begin, cut, end = found
            return Matched(pairs[begin:end], cut - begin, method)
    raise NotAligned(f"the {len(pairs)} tokens returned do not spell out the text")


def _any_char(ch: str) -> bool:
    return True


def _not_space(ch: str) -> bool:
    return not ch.isspace()


def _locate(
    tokens: list[str], prompt: str, text: str, keep: Callable[[str], bool]
) -> tuple[int, int, int] | None:
    owner = [index for index, token in enumerate(tokens) for ch in token if keep(ch)]
    stream = "".join(ch for token in tokens for ch in token if keep(ch))
    target = "".join(ch for ch in text if keep(ch))
    at = stream.find(target) if target else -1
    if at < 0:
        return None
    begin, end = owner[at], owner[at + len(target) - 1] + 1
    if len(text) == len(prompt):  # nothing to continue: the whole text is scored
        return begin, begin, end
    boundary = at + sum(1 for ch in prompt if keep(ch))
    if boundary >= at + len(target):  # the continuation is all characters this pass ignores
        return None
    return begin, owner[boundary], end
