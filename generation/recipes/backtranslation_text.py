"""Instruction Backtranslation's text rules: documents cut into segments, the seed examples
shown to the backward model, and readers of its instruction and of the curation score.

Segments (ours; the paper cuts ClueWeb pages after their HTML headers): a document longer
than `max_words` is cut at blank lines into runs of whole paragraphs of at most `max_words`,
a paragraph longer than that at sentence ends, and a markdown heading starts a new segment.
A last segment shorter than `min_words` joins the one before it. Every segment is an exact
slice of the document's text. Words are runs of letters and digits; CJK counts by character.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from generation.recipes.base import SeedRow
from generation.recipes.kit.parse import parse_score

_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")
_BREAK = re.compile(r"\n[ \t]*\n\s*")  # one or more blank lines
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+")
_HEADING = re.compile(r"#{1,6}\s")
DEMO_WORDS = 150  # a seed example's output is cut to this many words in the prompt


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


@dataclass(frozen=True)
class Segment:
    seed: SeedRow
    index: int  # 0-based, within its document
    count: int  # segments of the document
    text: str

    @property
    def words(self) -> int:
        return len(words(self.text))


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int
    heading: bool


def _trimmed(text: str, a: int, b: int) -> Iterator[tuple[int, int]]:
    chunk = text[a:b]
    if chunk.strip():
        yield a + len(chunk) - len(chunk.lstrip()), a + len(chunk.rstrip())


def _spans(text: str, pattern: re.Pattern[str], a: int, b: int) -> Iterator[tuple[int, int]]:
    """The non-blank pieces of text[a:b] between matches of `pattern`, trimmed."""
    start = a
    for m in pattern.finditer(text, a, b):
        yield from _trimmed(text, start, m.start())
        start = m.end()
    yield from _trimmed(text, start, b)


def _units(text: str, max_words: int) -> Iterator[_Unit]:
    for a, b in _spans(text, _BREAK, 0, len(text)):
        n = len(words(text[a:b]))
        heading = bool(_HEADING.match(text, a))
        if n <= max_words:
            yield _Unit(a, b, n, heading)
            continue
        for i, (s, e) in enumerate(_spans(text, _SENTENCE_END, a, b)):
            yield _Unit(s, e, len(words(text[s:e])), heading and i == 0)


def segments(seed: SeedRow, max_words: int, min_words: int) -> list[Segment]:
    """The document's segments (one, the whole stripped text, when it is short enough)."""
    text = str(seed.payload.get("text") or seed.text or "")
    if max_words == 0 or len(words(text)) <= max_words:
        return [Segment(seed, 0, 1, text.strip())] if text.strip() else []
    groups: list[list[_Unit]] = [[]]
    for unit in _units(text, max_words):
        size = sum(u.words for u in groups[-1])
        if groups[-1] and (size + unit.words > max_words or unit.heading):
            groups.append([])
        groups[-1].append(unit)
    if len(groups) > 1 and sum(u.words for u in groups[-1]) < min_words:
        groups[-2].extend(groups.pop())
    cut = [text[g[0].start : g[-1].end] for g in groups if g]
    return [Segment(seed, i, len(cut), piece) for i, piece in enumerate(cut)]


def demo_pair(seed: SeedRow) -> tuple[str, str] | None:
    """(instruction, output) of an instruction or conversation seed, for the backward model's
    examples; None for classification seeds and outputs under three words."""
    p = seed.payload
    pair: tuple[str, str] | None = None
    if seed.kind == "instruction" and not p.get("is_classification"):
        first = (p.get("instances") or [{}])[0]
        given = str(first.get("input") or "")
        asked = str(p.get("instruction") or "")
        pair = (f"{asked}\n\n{given}" if given else asked, str(first.get("output") or ""))
    elif seed.kind == "conversation":
        turns = [m for m in p.get("messages") or [] if isinstance(m, dict)]
        for user, reply in itertools.pairwise(turns):
            if user.get("role") == "user" and reply.get("role") == "assistant":
                pair = (str(user.get("content") or ""), str(reply.get("content") or ""))
                break
    if pair is None or not pair[0].strip() or len(pair[1].split()) < 3:
        return None
    return pair[0].strip(), pair[1].strip()


def render_demos(pairs: Sequence[tuple[str, str]]) -> str:
    """Examples in the prompt's own shape: the text, then the request it answers."""
    out = []
    for asked, answer in pairs:
        shown = answer.split()
        text = " ".join(shown[:DEMO_WORDS]) + (" …" if len(shown) > DEMO_WORDS else "")
        out.append(f"<text>\n{text}\n</text>\n<request>{asked}</request>\n\n")
    return "".join(out)


_LABEL = re.compile(
    r"^\s*\**\s*(?:the\s+)?(?:user'?s?\s+)?(?:request|instruction|question|prompt|query|user)"
    r"\s*\**\s*[:：]\s*",
    re.IGNORECASE,
)
_PREFACE = re.compile(r"^\s*(?:sure|okay|ok|certainly|here)\b[^\n]*:\s*\n", re.IGNORECASE)


def instruction_of(reply: str) -> str:
    """The predicted instruction: inside <request> … </request> (either tag may be missing),
    without a chatty preface line, a "Request:" label, bold marks or quotes."""
    text = reply.split("<request>", 1)[-1].split("</request>", 1)[0]
    text = text.split("<text>", 1)[0]  # a model that goes on with another example
    text = _PREFACE.sub("", text.strip())
    text = _LABEL.sub("", text.strip())
    return text.strip().strip("*").strip().strip('"“”').strip()


def copied_run(instruction: str, text: str, run: int) -> bool:
    """Whether the instruction repeats `run` consecutive words of the text."""
    ask = words(instruction)
    if len(ask) < run:
        return False
    body = words(text)
    seen = {tuple(body[i : i + run]) for i in range(len(body) - run + 1)}
    return any(tuple(ask[i : i + run]) in seen for i in range(len(ask) - run + 1))


_LEADING_RATING = re.compile(r"^\W*([1-5])\s*(?:(?:/|out of)\s*5)?\s*(?:\Z|\n)", re.IGNORECASE)


def rating(text: str, maximum: float = 5.0) -> float | None:
    """The 1-5 rating: the last "Score: N", else a first line that is only the number."""
    value = parse_score(text, maximum)
    if value is None:
        leading = _LEADING_RATING.match(text)
        value = float(leading.group(1)) if leading else None
    return value if value is not None and 1.0 <= value <= maximum else None
