"""Parsers for model output: judge scores, (A)/(B) choices, final answers. All untrusted text.

Every parser returns None for what it cannot read; the step that called it decides what an
unparsable reply means (JUDGE and PAIRJ drop it, METHODS.md §0.1).
"""

from __future__ import annotations

import math
import re
from typing import Any

from generation.recipes.kit import answers

_SCORE_RE = re.compile(r"score\s*[:=]\s*\**\s*(\d{1,2}(?:\.\d+)?)\b", re.IGNORECASE)
# "Answer: (B)", "The answer is B", "answer = (A)": the letter must stand alone, so "This
# answer avoids harm" is not read as A.
_ANSWER_RE = re.compile(r"\banswer\s*(?:is)?\s*[:=]?\s*\(?\s*([AB])\s*\)?(?![\w])", re.IGNORECASE)
_LEADING_RE = re.compile(r"^\s*\(?([AB])\)?(?![\w])")


def parse_score(text: str, maximum: float = 5.0) -> float | None:
    """The last "Score: N" in the text, or None. Out-of-range scores do not parse."""
    matches = _SCORE_RE.findall(text)
    if not matches:
        return None
    value = float(matches[-1])
    return value if 0.0 <= value <= maximum else None


def choice_label(text: str) -> float | None:
    """p(A) as a hard label from a multiple-choice reply: 1.0 for (A), 0.0 for (B)."""
    found = [m.group(1) for m in _ANSWER_RE.finditer(text)]
    if not found:
        leading = _LEADING_RE.match(text)
        found = [leading.group(1)] if leading else []
    if not found:
        return None
    return 1.0 if found[0].upper() == "A" else 0.0


def choice_soft_label(first_tokens: list[list[Any]] | None) -> float | None:
    """p(A) from the first answer token's logprobs, normalised over A and B."""
    for token, logprob, top in first_tokens or []:
        options = dict(top) or {token: logprob}
        options.setdefault(token, logprob)
        a = [lp for t, lp in options.items() if str(t).strip(" ()").upper() == "A"]
        b = [lp for t, lp in options.items() if str(t).strip(" ()").upper() == "B"]
        if a or b:
            pa = math.exp(max(a)) if a else 0.0
            pb = math.exp(max(b)) if b else 0.0
            return pa / (pa + pb) if pa + pb > 0 else None
    return None


def final_answer(text: str) -> str | None:
    """A final answer, normalised: \\boxed{…}, "#### …", "the answer is …", else the last
    number, else a short last line (kit/answers.py, kind "auto")."""
    return answers.extractor("auto")(text)


def normalise_answer(value: str) -> str | None:
    """Compare answers loosely: GAIA-style normalisation of kit/answers.py, kind "auto"."""
    return answers.normalise(value, "auto")


_INSTRUCTION_LABEL = re.compile(
    r"^\s*\**\s*(?:rewritten|new|harder|improved|basic)?\s*instruction\s*\**\s*:\s*", re.I
)


def unwrap(text: str) -> str:
    """An instruction without the wrapping a model adds: fences, <<< >>>, a leading
    "Rewritten instruction:" (or new, harder, improved, basic) label, quotes."""
    text = re.sub(r"```[^\n]*\n?", "", text).replace("<<<", "").replace(">>>", "")
    text = _INSTRUCTION_LABEL.sub("", text.strip())
    return text.strip().strip("*").strip().strip('"').strip()


def without_echo(text: str, prompt: str) -> str:
    """The text without a leading copy of the prompt's end (small models often repeat it)."""
    words = prompt.split()
    low = text.lower()
    for i in range(len(words)):
        tail = " ".join(words[i:])
        rest = text[len(tail) :]
        if low.startswith(tail.lower()) and not (rest[:1].isalnum() and tail[-1:].isalnum()):
            return rest  # the copy ends where a word ends ("The film" is not "The filmmakers")
    return text
