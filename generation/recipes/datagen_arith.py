"""DataGen's code check for math labels, without a sandbox: an arithmetic evaluator on the AST.

DataGen has the model write Python that computes a problem's answer and runs it. Until the
sandbox arrives (need SBX), the model writes one arithmetic expression instead, and this
module evaluates it exactly (fractions) on Python's AST: numbers, + - * / // % **, unary
signs and parentheses, nothing else. No names, calls, attributes or strings are ever
evaluated, powers and sizes are bounded, and what does not read is None, never an error.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

MAX_CHARS = 300
MAX_NODES = 80
MAX_EXPONENT = 12
MAX_MAGNITUDE = Fraction(10) ** 30

_CALC_LABEL = re.compile(r"^\s*(?:[-*#>\s]*)(?:expression|calculation|answer)?\s*[:=]?\s*", re.I)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES = re.compile(r"(?<=[\d)])\s*[x×]\s*(?=[\d(])")
_ALLOWED = re.compile(r"^[\d\s.+\-*/%()]+$")


def evaluate(expression: str) -> Fraction | None:
    """The exact value of an arithmetic expression, or None when it is not one."""
    text = normalise(expression)
    if not text or len(text) > MAX_CHARS or not _ALLOWED.match(text):
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        return None
    try:
        return _value(tree.body)
    except (ArithmeticError, ValueError):
        return None


def normalise(expression: str) -> str:
    """×, x, ÷, ^ and thousands commas as Python reads them; a trailing "= result" dropped."""
    text = expression.strip().strip("`$").strip()
    text = text.split("=")[0] if text.count("=") >= 1 and not text.startswith("=") else text
    text = _THOUSANDS.sub("", text)
    text = _TIMES.sub("*", text).replace("÷", "/").replace("^", "**").replace("−", "-")
    return text.strip()


def expression_in(reply: str) -> str | None:
    """The expression a reply gives: the last line that reads as one (labels stripped)."""
    candidates = []
    for line in reply.strip().splitlines():
        line = _CALC_LABEL.sub("", line).strip().strip("`$").strip()
        if line and re.search(r"\d", line) and evaluate(line) is not None:
            candidates.append(line)
    return candidates[-1] if candidates else None


def _value(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(Fraction(str(node.value)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        inner = _value(node.operand)
        return inner if isinstance(node.op, ast.UAdd) else -inner
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left), _value(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return _bounded(left + right)
        if isinstance(op, ast.Sub):
            return _bounded(left - right)
        if isinstance(op, ast.Mult):
            return _bounded(left * right)
        if isinstance(op, ast.Div):
            return _bounded(left / right)  # ZeroDivisionError is an ArithmeticError
        if isinstance(op, ast.FloorDiv):
            return _bounded(Fraction(left // right))
        if isinstance(op, ast.Mod):
            return _bounded(left % right)
        if isinstance(op, ast.Pow):
            if right.denominator != 1 or abs(right) > MAX_EXPONENT:
                raise ValueError("exponent out of bounds")
            return _bounded(left ** int(right))
    raise ValueError(f"not arithmetic: {type(node).__name__}")


def _bounded(value: Fraction) -> Fraction:
    if abs(value) > MAX_MAGNITUDE or value.denominator > MAX_MAGNITUDE:
        raise ValueError("number out of bounds")
    return value
