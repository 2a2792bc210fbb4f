"""BFCL's AST checker and its item format (METHODS.md #40). A leaf library: it imports the
standard library and generation.llm_tools only, so curation's exports may use it.

    from generation.tools import bfcl
    verdict = bfcl.check(calls, functions, ground_truth)   # a recipe's CHECK step
    it.check(verdict.valid, "bfcl_ast", "; ".join(verdict.reasons))
"""

from __future__ import annotations

from generation.tools.bfcl.checker import CallVerdict, Problem, Verdict, check
from generation.tools.bfcl.evaluate import (
    NotOneStep,
    calls_of,
    evaluate,
    split,
    stored_item,
    verdict_of,
)
from generation.tools.bfcl.gold import (
    Call,
    Expected,
    calls_from_gold,
    calls_from_openai,
    category_of,
    function_docs,
    gold_from_calls,
    parse_gold,
    tool_calls,
)
from generation.tools.bfcl.values import normalise

__all__ = [
    "Call",
    "CallVerdict",
    "Expected",
    "NotOneStep",
    "Problem",
    "Verdict",
    "calls_from_gold",
    "calls_from_openai",
    "calls_of",
    "category_of",
    "check",
    "evaluate",
    "function_docs",
    "gold_from_calls",
    "normalise",
    "parse_gold",
    "split",
    "stored_item",
    "tool_calls",
    "verdict_of",
]
