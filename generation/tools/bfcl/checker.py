"""BFCL's AST checker (METHODS.md #40) over a model's calls, the function docs and the
possible answers: a pure function, for a recipe's CHECK step and for evaluating samples.

A call passes against one expected call when the function name matches, every required
parameter is there, no parameter is unknown or absent from the expected answer, every
value has its declared type (an int for a float too) and is one of the acceptable values,
and every expected parameter without "" ("may be omitted") is given. Parallel calls are
matched one to one in any order. An irrelevance item passes when no call is made. Without
possible answers only the docs are checked (names, required, unknown, types).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generation.tools.bfcl import values
from generation.tools.bfcl.gold import (
    Call,
    Expected,
    category_of,
    function_docs,
    parameters_of,
    parse_gold,
)

__all__ = ["Call", "CallVerdict", "Problem", "Verdict", "check", "function_docs"]


@dataclass(frozen=True, slots=True)
class Problem:
    code: str  # missing_required, unknown_parameter, type_error, value_error, wrong_count, ...
    message: str


@dataclass(frozen=True, slots=True)
class CallVerdict:
    index: int  # the call's position in the model's output
    name: str
    valid: bool
    expected: int | None  # the possible-answer entry it matched; None when it matched none
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    category: str
    calls: tuple[CallVerdict, ...]
    problems: tuple[Problem, ...]  # about the item: counts, expected calls nobody made

    @property
    def reasons(self) -> list[str]:
        """Every problem as one line: per call first, then the item's."""
        out = [
            f"call {c.index + 1} ({c.name}): {p.message}" for c in self.calls for p in c.problems
        ]
        return out + [p.message for p in self.problems]

    def as_dict(self) -> dict[str, Any]:
        """JSON data, to store with a sample or show in review."""
        return {
            "valid": self.valid,
            "category": self.category,
            "problems": [_problem(p) for p in self.problems],
            "calls": [
                {
                    "index": c.index,
                    "name": c.name,
                    "valid": c.valid,
                    "expected": c.expected,
                    "problems": [_problem(p) for p in c.problems],
                }
                for c in self.calls
            ],
        }


def _problem(p: Problem) -> dict[str, str]:
    return {"code": p.code, "message": p.message}


def check(
    calls: Sequence[Call],
    functions: Sequence[Mapping[str, Any]],
    ground_truth: list[Any] | None,
    category: str = "",
) -> Verdict:
    """The verdict on one item. `functions`: BFCL function docs or OpenAI tools;
    `ground_truth`: BFCL's possible answers ([{name: {param: [acceptable values]}}]),
    [] for "no call is right", None for a check against the docs only. `category` (BFCL's,
    e.g. "parallel_multiple" or "live_irrelevance") is inferred when not given. Raises
    ValueError when the possible answers are malformed."""
    docs = function_docs(functions)
    expected = parse_gold(ground_truth) if ground_truth is not None else None
    if not category:
        category = _inferred(len(docs), expected)
    if "java" in category or "multi_turn" in category:  # also javascript
        why = f"category {category!r} is not supported: Python single-turn categories only"
        return Verdict(False, category, (), (Problem("unsupported_category", why),))
    if "irrelevance" in category or expected == []:
        return _irrelevance(calls, docs, category)
    if "relevance" in category or expected is None:
        verdicts = tuple(_on_docs(i, c, docs) for i, c in enumerate(calls))
        if not calls:
            return Verdict(False, category, (), (Problem("no_call", "no function was called"),))
        # BFCL's relevance items pass on any call; a check on the docs alone needs them valid.
        ok = "relevance" in category or all(v.valid for v in verdicts)
        return Verdict(ok, category, verdicts, ())
    return _matched(calls, docs, expected, category)


def _inferred(docs: int, expected: list[Expected] | None) -> str:
    if expected is None:
        return ""
    return category_of(len(expected), docs)


def _doc_for(name: str, docs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """OpenAI-style endpoints cannot call a name with "." in it, so BFCL reads "_" for it."""
    if name in docs:
        return docs[name]
    return next((d for n, d in docs.items() if n.replace(".", "_") == name), None)


def _same_name(called: str, expected: str) -> bool:
    return called == expected or called == expected.replace(".", "_")


def _against(call: Call, doc: Mapping[str, Any] | None, want: Expected) -> list[Problem]:
    """One call against one expected call."""
    if not _same_name(call.name, want.name):
        return [Problem("wrong_function", f"called {call.name!r}; expected {want.name!r}")]
    if call.arguments is None:
        return [Problem("arguments_not_json", call.error or "the arguments are not an object")]
    # A doc missing for the expected function (a data slip): its parameters are the answer's.
    properties, required = parameters_of(doc) if doc else ({k: {} for k in want.params}, [])
    args = call.arguments
    out = [
        Problem("missing_required", f"required parameter {p!r} is missing")
        for p in required
        if p not in args
    ]
    for param, value in args.items():
        if param not in properties:
            out.append(Problem("unknown_parameter", f"{param!r} is not a parameter of {want.name}"))
        elif param not in want.params:
            out.append(Problem("unexpected_parameter", f"{param!r} is not in the expected answer"))
        else:
            options = want.params[param]
            why = values.type_problem(value, properties[param], options)
            code = "type_error" if why else "value_error"
            why = why or values.value_problem(value, properties[param], options)
            if why:
                out.append(Problem(code, f"{param}: {why}"))
    for param, options in want.params.items():
        if param not in args and param not in required and "" not in options:
            why = f'{param!r} is missing; the expected answer gives it no "" (may be omitted)'
            out.append(Problem("missing_optional", why))
    return out


def _on_docs(index: int, call: Call, docs: dict[str, dict[str, Any]]) -> CallVerdict:
    """One call against the docs alone: name, JSON arguments, required, unknown, types."""
    doc = _doc_for(call.name, docs)
    out: list[Problem] = []
    if doc is None:
        out.append(Problem("unknown_function", f"{call.name!r} is not one of the functions"))
    elif call.arguments is None:
        out.append(Problem("arguments_not_json", call.error or "the arguments are not an object"))
    else:
        properties, required = parameters_of(doc)
        out += [
            Problem("missing_required", f"required parameter {p!r} is missing")
            for p in required
            if p not in call.arguments
        ]
        for param, value in call.arguments.items():
            if param not in properties:
                why = f"{param!r} is not a parameter of {call.name}"
                out.append(Problem("unknown_parameter", why))
            elif why := values.type_problem(value, properties[param], []):
                out.append(Problem("type_error", f"{param}: {why}"))
    return CallVerdict(index, call.name, not out, None, tuple(out))


def _irrelevance(calls: Sequence[Call], docs: dict[str, dict[str, Any]], category: str) -> Verdict:
    why = Problem("irrelevance", "no call is the right answer here")
    verdicts = tuple(
        CallVerdict(i, c.name, False, None, (why, *_on_docs(i, c, docs).problems))
        for i, c in enumerate(calls)
    )
    return Verdict(not calls, category, verdicts, ())


def _matched(
    calls: Sequence[Call],
    docs: dict[str, dict[str, Any]],
    expected: list[Expected],
    category: str,
) -> Verdict:
    table = [[_against(c, _doc_for(w.name, docs), w) for w in expected] for c in calls]
    owner = _matching([[not cell for cell in row] for row in table], len(expected))
    matched = {call: gold for gold, call in enumerate(owner) if call is not None}
    problems = []
    if len(calls) != len(expected):
        problems.append(Problem("wrong_count", f"expected {len(expected)} calls, got {len(calls)}"))
    for gold, call in enumerate(owner):
        if call is None:
            why = f"no call matches expected call {gold + 1} ({expected[gold].name})"
            problems.append(Problem("missing_call", why))
    verdicts = []
    for i, c in enumerate(calls):
        if i in matched:
            verdicts.append(CallVerdict(i, c.name, True, matched[i], ()))
        else:
            verdicts.append(CallVerdict(i, c.name, False, None, _unmatched(i, table, owner)))
    valid = not problems and all(v.valid for v in verdicts)
    return Verdict(valid, category, tuple(verdicts), tuple(problems))


def _unmatched(
    i: int, table: list[list[list[Problem]]], owner: list[int | None]
) -> tuple[Problem, ...]:
    """Why call i matched nothing: the expected call it comes closest to, free ones first."""
    row = table[i]
    if not row:
        return (Problem("unexpected_call", "no call was expected"),)
    for gold, problems in enumerate(row):
        if not problems and owner[gold] is not None:
            taken = owner[gold]
            assert taken is not None
            why = f"repeats expected call {gold + 1}, which call {taken + 1} already matched"
            return (Problem("duplicate_call", why),)

    def distance(gold: int) -> tuple[bool, bool, int]:
        wrong_name = any(p.code == "wrong_function" for p in row[gold])
        return (wrong_name, owner[gold] is not None, len(row[gold]))

    best = min(range(len(row)), key=distance)
    return tuple(row[best])


def _matching(ok: list[list[bool]], size: int) -> list[int | None]:
    """A maximum one-to-one matching of calls to expected calls (augmenting paths), so
    that no order of the calls can hide a match (BFCL matches greedily in answer order).
    Returns, per expected call, the call that matched it."""
    owner: list[int | None] = [None] * size

    def place(call: int, seen: set[int]) -> bool:
        for gold in range(size):
            if ok[call][gold] and gold not in seen:
                seen.add(gold)
                holder = owner[gold]
                if holder is None or place(holder, seen):
                    owner[gold] = call
                    return True
        return False

    for call in range(len(ok)):
        place(call, set())
    return owner
