"""AutoIF's pieces that are not steps: the verifier a model writes (parsed, its network lines
stripped), the harness that runs it in the sandbox, cross-validation against the test cases,
a response's pass rate, the NLI label, and the prompt an SFT row is trained on."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from generation.recipes.base import SeedRow

# Lines holding these words are removed before a verifier runs (as the reference code does):
# a verifier must judge the response alone, never fetch a model or a page.
STRIPPED = ("download", "requests")
CODE_CHARS = 4000  # a verifier longer than this is not an atomic check
CASES_PER_VERIFIER = 10  # at most, whatever the model wrote
ENTRY = "autoif_check"
# Runs one verifier over many texts in one sandboxed process: compiled once, each text's
# result True/False, or None where evaluate raised or returned something else.
HARNESS = """
def autoif_check(code, texts):
    space = {"__name__": "verifier"}
    try:
        exec(compile(code, "<verifier>", "exec"), space)
    except BaseException as exc:
        return {"error": (type(exc).__name__ + ": " + str(exc))[:300]}
    evaluate = space.get("evaluate")
    if not callable(evaluate):
        return {"error": "no evaluate function"}
    results = []
    for text in texts:
        try:
            got = evaluate(text)
        except Exception:
            got = None
        results.append(bool(got) if isinstance(got, (bool, int)) and got in (0, 1) else None)
    return {"results": results}
"""
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_PYTHON = re.compile(r"```(?:python|py)?\s*\n(.*?def evaluate.*?)```", re.DOTALL)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+(.*\S)\s*$")
_NLI = re.compile(r"\b(entail\w*|neutral|contradict\w*)", re.IGNORECASE)
NLI_SCORES = {"entail": 1.0, "neutral": 0.5, "contradict": 0.0}


@dataclass(frozen=True)
class Case:
    input: str
    output: bool


@dataclass(frozen=True)
class Verifier:
    code: str
    cases: tuple[Case, ...]
    stripped: int  # lines removed for naming download/requests


def is_constraint(seed: SeedRow) -> bool:
    """An atomic instruction seed: an instruction seed whose meta.type is "constraint"."""
    meta = seed.payload.get("meta") or {}
    kind = meta.get("type") if isinstance(meta, dict) else None
    return seed.kind == "instruction" and str(kind or "").strip().lower() == "constraint"


def strip_network(code: str) -> tuple[str, int]:
    """The code without its lines that name download or requests, and how many went."""
    lines = code.split("\n")
    kept = [line for line in lines if not any(word in line for word in STRIPPED)]
    return "\n".join(kept), len(lines) - len(kept)


def truth(value: Any) -> bool | None:
    """A test case's expected output: a bool, or the words true/false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _object(text: str) -> dict[str, Any] | None:
    spans = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        spans.append(text[start : end + 1])
    for span in spans:
        for attempt in (span, _PY_LITERAL.sub(lambda m: m[1] + _JSON_OF[m[2]], span)):
            try:  # strict=False: small models put raw newlines inside the func string
                value = json.loads(attempt, strict=False)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


# Small models write Python's True/False/None as values inside otherwise-JSON replies.
_PY_LITERAL = re.compile(r"([:\[,]\s*)(True|False|None)\b")
_JSON_OF = {"True": "true", "False": "false", "None": "null"}


def parse_verifier(text: str) -> Verifier | None:
    """The model's {"func", "cases"} reply; a bare ```python block with `def evaluate` is a
    verifier without cases. None when there is no evaluate function to run."""
    value = _object(text)
    func = value.get("func") if value else None
    raw_cases = value.get("cases") if value else None
    if not isinstance(func, str):
        found = _PYTHON.search(text)
        func, raw_cases = (found.group(1), None) if found else (None, None)
    if not func or "def evaluate" not in func or len(func) > CODE_CHARS:
        return None
    if "\\n" in func and "\n" not in func.strip():  # written with \n escapes, left escaped
        func = func.replace("\\n", "\n")
    code, stripped = strip_network(func.strip())
    cases = []
    for case in raw_cases if isinstance(raw_cases, list) else []:
        if isinstance(case, dict) and isinstance(case.get("input"), str):
            expected = truth(case.get("output"))
            if expected is not None:
                cases.append(Case(case["input"], expected))
    return Verifier(code, tuple(cases[:CASES_PER_VERIFIER]), stripped)


def results_of(value: Any, count: int) -> list[bool | None] | None:
    """The harness's per-text results, or None when the verifier did not compile or run."""
    found = value.get("results") if isinstance(value, dict) else None
    if not isinstance(found, list) or len(found) != count:
        return None
    return [r if isinstance(r, bool) else None for r in found]


def cross_validate(
    results: list[list[bool | None]], cases: list[Case]
) -> tuple[list[int], list[float]]:
    """③: a case is kept when at least one verifier gives its expected output; a verifier's
    accuracy is its share of right answers on the kept cases (an error is wrong)."""
    kept = [i for i, case in enumerate(cases) if any(r[i] is case.output for r in results)]
    accuracy = [
        sum(r[i] is cases[i].output for i in kept) / len(kept) if kept else 0.0 for r in results
    ]
    return kept, accuracy


def pass_rate(verdicts: list[bool | None]) -> float:
    """⑤: the mean of the verifiers' verdicts on a response, errors left out (0 if none)."""
    known = [v for v in verdicts if v is not None]
    return sum(known) / len(known) if known else 0.0


def nli_label(text: str, maximum: float = 1.0) -> float | None:
    """The NLI judge's label as a score: entailment 1, neutral 0.5, contradiction 0.
    A 'Label: …' line wins; else the last of the three words; None when none is there."""
    labelled = re.findall(r"label\W{0,4}(entail\w*|neutral|contradict\w*)", text, re.I)
    found = labelled or _NLI.findall(text)
    if not found:
        return None
    word = found[-1].lower()
    return next(maximum * s for stem, s in NLI_SCORES.items() if word.startswith(stem))


def listed(text: str, low: int = 1, high: int = 1000) -> list[str]:
    """The items of a '- ' or numbered list, unwrapped, between low and high characters."""
    out = []
    for line in text.splitlines():
        found = _ITEM.match(line)
        item = found.group(1).strip().strip('"').strip() if found else ""
        if low <= len(item) <= high and item not in out:
            out.append(item)
    return out


def first_line(text: str) -> str:
    """A back-translated instruction: its first non-empty line, without a label or quotes."""
    for line in text.strip().splitlines():
        line = re.sub(r"^\s*(?:[-*]\s+)?(?:\**instruction\**\s*:\s*)?", "", line, flags=re.I)
        line = line.strip().strip('"').strip()
        if line:
            return line
    return ""


def joined(query: str, instruction: str) -> str:
    """The SFT prompt: the query, then the instruction as a sentence of its own."""
    query, instruction = query.strip(), instruction.strip()
    instruction = instruction[:1].upper() + instruction[1:]
    if instruction and instruction[-1] not in ".!?":
        instruction += "."
    gap = " " if query[-1:] in ".?!" else ". "
    return f"{query}{gap}{instruction}" if query else instruction
