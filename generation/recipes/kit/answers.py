"""Final answers: read them out of model output, normalise them, and compare them.

One scorer for every recipe that checks or votes on answers (STaR, LMSI, CoT-Self-Instruct),
after GAIA's quasi-exact match (METHODS.md #34): numbers lose commas, units, currency and
trailing zeros ("1,000" == "1000"); short strings lose case, punctuation, articles and extra
whitespace ("Paris, France" != "Paris"); lists compare element by element, in order
("a, b" == "a,b"). Math answers also read \\boxed{…} (nested braces), \\frac{a}{b} and light
LaTeX, and two answers that both read as numbers compare as numbers ("0.5" == "\\frac{1}{2}").

Kinds: number | choice (a letter A-E) | short | math | list | auto. `auto` reads the kind from
the reference answer, as GAIA's scorer does: a number, else LaTeX (math), else a comma or
semicolon list, else a short string. Model output is untrusted: what cannot be read is None.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Literal

# The seed importer's \boxed{…} reader (braces nested to any depth): one matcher for both.
from curation.seeds.kinds.qa import last_boxed
from generation.recipes.kit.results import Vote

Kind = Literal["auto", "number", "choice", "short", "math", "list"]

# "The answer is 42", "Final answer: 42", "answer = (B)"; the answer runs to the line's end.
_SAID = re.compile(
    r"\banswer\b\s*(?:is\b|:|=)\s*(?:is\b)?\s*[:=]?\s*(?P<a>[^\n]*\S)", re.IGNORECASE
)
_MARKER = re.compile(r"####\s*(?P<a>[^\n]*\S)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_LAST_NUMBER = re.compile(r"[-+−]?[$€£¥]?\d+(?:,\d{3})*(?:\.\d+)?")
_NUMBER = re.compile(
    r"^(?P<n>[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d{1,3})?)(?:\s*/\s*(?P<d>\d+))?"
    r"\s*(?P<unit>[^\d]{0,30})$",
    re.IGNORECASE,
)
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+(?![\d,])")
_UNIT = re.compile(r"^(?:%|°\s*\w*|[^\W\d_][^\d]*)?$")
_FRAC = re.compile(r"^(?P<s>[+-]?)\\frac\{(?P<a>[^{}]+)\}\{(?P<b>[^{}]+)\}$")
_CHOICE_SAID = re.compile(r"^\(?\s*([A-E])\s*\)?(?![A-Za-z])", re.IGNORECASE)
_CHOICE_PAREN = re.compile(r"\(\s*([A-E])\s*\)")
_CHOICE_ALONE = re.compile(r"^\s*\(?([A-E])(?:[).:](?:\s|$)|\s*$)")
_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_NOISE = re.compile(
    r"\\left|\\right|\\[!,;:]|\\quad|\\qquad|\\displaystyle|\\ |\^\{?\\circ\}?"
)
_ARTICLES = frozenset({"a", "an", "the"})
_SHORT_WORDS = 12  # a bare last line longer than this is not read as a short answer


def extract(text: str | None, kind: Kind = "auto") -> str | None:
    """The final answer as the reply writes it (not normalised), or None.

    \\boxed{…} wins, then "#### …", then the last "the answer is …"; failing those, a choice
    reads a lone "(B)", a number or math answer the last number, a short answer or list a
    short last line.
    """
    if not text or not text.strip():
        return None
    said = _said(text)
    if kind == "choice":
        return (_choice(said) or _choice_in(said)) if said else _choice_in(text)
    if said is not None and kind in ("number", "math", "auto") and "=" in said:
        said = said.rsplit("=", 1)[1].strip() or said  # "12 x 4 = 48": the result
    if said is not None and kind == "number" and as_number(said) is None:
        said = str((_LAST_NUMBER.findall(said) or [said])[-1])
    if said is not None:
        return said
    if kind in ("number", "math", "auto"):
        numbers = _LAST_NUMBER.findall(text)
        if numbers:
            return str(numbers[-1])
        if kind != "auto":
            return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1].strip("*_ ") if lines else ""
    return last if last and len(last.split()) <= _SHORT_WORDS else None


def normalise(value: str | None, kind: Kind = "auto") -> str | None:
    """A canonical form of an answer: two answers match when their forms are equal."""
    if value is None or not value.strip():
        return None
    value = unicodedata.normalize("NFKC", value).replace("−", "-").strip()
    if kind == "auto":
        kind = kind_of(value)
    if kind == "number":
        number = as_number(value)
        return None if number is None else show_number(number)
    if kind == "choice":
        return _choice(value)
    if kind == "math":
        return _math(value)
    if kind == "list":
        parts = [_element(p) for p in re.split(r"[,;]", value)]
        return None if any(p is None for p in parts) else ",".join(p or "" for p in parts)
    return _short(value)


def matches(answer: str | None, reference: str | None, kind: Kind = "auto") -> bool:
    """Whether an (extracted) answer matches the reference; auto takes the reference's kind."""
    if answer is None or reference is None:
        return False
    if kind == "auto":
        kind = kind_of(reference)
    if kind == "number":
        a, b = as_number(answer), as_number(reference)
        return a is not None and a == b
    mine, theirs = normalise(answer, kind), normalise(reference, kind)
    return mine is not None and mine == theirs


def extractor(kind: Kind = "auto") -> Callable[[str], str | None]:
    """extract then normalise: the key `it.vote` counts, so replies that agree vote together."""

    def key(text: str) -> str | None:
        return normalise(extract(text, kind), kind)

    return key


def tied(vote: Vote) -> bool:
    """Two answers share the top count: the vote names no majority."""
    top = Counter(a for a in vote.answers if a is not None).most_common(2)
    return len(top) == 2 and top[0][1] == top[1][1]


def vote_record(vote: Vote, answer: str | None = None) -> dict[str, Any]:
    """What a sample keeps of a vote (extra["vote"]): the answer as written, share, count, of."""
    return {
        "answer": answer if answer is not None else vote.answer,
        "share": round(vote.share, 4),
        "count": vote.count,
        "of": len(vote.answers),
    }


def kind_of(value: str) -> Kind:
    """What `auto` takes a reference answer for."""
    if as_number(value) is not None:
        return "number"
    if "\\" in value or "^" in value or "{" in value:
        return "math"
    if "," in value or ";" in value:
        return "list"
    return "short"


# -- numbers ------------------------------------------------------------------------------


def as_number(value: str) -> Fraction | None:
    """A number, with currency, thousands commas, a unit word or %, or \\frac{a}{b}; else None."""
    value = unicodedata.normalize("NFKC", value).replace("−", "-").strip()
    value = _unwrap(value).strip().rstrip(".").strip()
    frac = _FRAC.match(value.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac"))
    if frac:
        a, b = _plain_number(frac["a"]), _plain_number(frac["b"])
        if a is None or b is None or b == 0:
            return None
        return -a / b if frac["s"] == "-" else a / b
    value = value.replace("\\%", "%").replace("\\$", "$")
    sign = "-" if value.startswith("-") else ""
    value = value.lstrip("+-").strip().lstrip("$€£¥₹").strip()
    grouped = _GROUPED.match(value)  # thousands commas only: "1,2,3" is a list
    if grouped:
        value = grouped.group(0).replace(",", "") + value[grouped.end() :]
    if "," in value:
        return None
    m = _NUMBER.match(sign + value)
    if not m or not _UNIT.match(m["unit"].strip()):
        return None
    try:  # a model stuck repeating a digit passes Python's int-conversion limit
        number = Fraction(m["n"])
        if m["d"] is not None:
            if int(m["d"]) == 0:
                return None
            number /= int(m["d"])
    except ValueError:
        return None
    return number


def show_number(number: Fraction) -> str:
    """The shortest exact decimal ("2.5", "1000"), or "p/q" when it does not terminate."""
    for places in range(0, 40):
        scaled = number * 10**places
        if scaled.denominator == 1:
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            whole, frac = digits[: len(digits) - places], digits[len(digits) - places :]
            text = f"{whole}.{frac}".rstrip("0").rstrip(".") if places else whole
            return f"-{text}" if number < 0 else text
    return f"{number.numerator}/{number.denominator}"


def _plain_number(value: str) -> Fraction | None:
    value = value.strip().replace(",", "")
    m = _NUMBER.match(value)
    if not m or m["unit"] or m["d"] is not None:
        return None
    return Fraction(m["n"])


# -- text, choices, math, lists -----------------------------------------------------------


def _said(text: str) -> str | None:
    """The last answer a reply states: \\boxed{…}, "#### …", "the answer is …"."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip() or None
    for pattern in (_MARKER, _SAID):
        found = list(pattern.finditer(text))
        if found:
            answer = found[-1]["a"].strip().strip("*").strip()
            end = _SENTENCE_END.search(answer)
            answer = answer[: end.start()] if end else answer
            return answer.strip().strip("*").strip() or None
    return None


def _unwrap(value: str) -> str:
    """Drop a \\boxed{…} or $…$ around an answer."""
    boxed = last_boxed(value)
    if boxed is not None:
        value = boxed
    value = value.strip()
    for left, right in (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"), ("$", "$")):
        if len(value) > len(left) + len(right) and value.startswith(left) and value.endswith(right):
            value = value[len(left) : -len(right)]
    return value


def _choice(value: str) -> str | None:
    m = _CHOICE_SAID.match(value.strip())
    return m.group(1).upper() if m else None


def _choice_in(text: str) -> str | None:
    found = _CHOICE_PAREN.findall(text)
    if found:
        return str(found[-1]).upper()
    m = _CHOICE_ALONE.match(text)
    return m.group(1).upper() if m else None


def _short(value: str) -> str | None:
    text = re.sub(r"[^\w\s]|_", " ", value.lower())
    words = text.split()
    kept = [w for w in words if w not in _ARTICLES] or words
    return " ".join(kept) or None


def _element(value: str) -> str | None:
    number = as_number(value)
    return show_number(number) if number is not None else _short(value)


def _math(value: str) -> str | None:
    number = as_number(value)
    if number is not None:
        return show_number(number)
    text = _unwrap(value)
    text = _LATEX_WRAPPERS.sub(r"\1", text)
    text = _LATEX_NOISE.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", text)
    assigned = re.match(r"^[A-Za-z]\s*=\s*(.+)$", text.strip())
    if assigned:
        text = assigned.group(1)
    number = as_number(text)
    if number is not None:
        return show_number(number)
    text = re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", "".join(text.split()))
    return text.rstrip(".") or None
