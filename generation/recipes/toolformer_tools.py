"""Toolformer's tools, all local: a calculator, a calendar, QA answered by the model and a
search over the run's own documents (the paper's Wikipedia search, BM25 over the run's
document seeds here). What is here is pure: reading a sampled call, the calculator's
arithmetic, the calendar's sentence, the per-tool text heuristics and the inline format.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOOLS = ("calculator", "calendar", "qa", "search")
NAMES = {"calculator": "Calculator", "calendar": "Calendar", "qa": "QA", "search": "WikiSearch"}
ARROW = "→"
MAX_ARGS = 200  # characters of one call's input
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_OPS: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
LIMIT = 1e15  # larger operands or results are refused: no arithmetic blow-ups


@dataclass(frozen=True)
class Call:
    tool: str
    args: str

    @property
    def text(self) -> str:
        return f"{NAMES[self.tool]}({self.args})"

    def inline(self, result: str | None) -> str:
        """`[Tool(args) → result]`; with result None, the call alone `[Tool(args)]`; with an
        empty result, the call and its arrow (the paper's e(c, ε))."""
        if result is None:
            return f"[{self.text}]"
        return f"[{self.text} {ARROW} {result}]".replace(f"{ARROW} ]", f"{ARROW}]")


def read_call(tool: str, generated: str) -> Call | None:
    """The call a model wrote after `[Tool(`: its input up to the closing parenthesis.
    None when it has none, or an input the tool cannot take."""
    text = generated.split(ARROW)[0].split("]")[0].split("\n")[0].rstrip()
    if not text.endswith(")"):
        return None
    args = text[:-1].strip().strip("\"'").strip()
    if len(args) > MAX_ARGS:
        return None
    if tool == "calendar":  # it takes no input: whatever the model wrote inside goes
        return Call(tool, "")
    if tool == "calculator" and calculate(args) is None:
        return None
    return Call(tool, args) if args else None


def calculate(expression: str) -> str | None:
    """+ − × ÷ and parentheses over numbers, the result rounded to two decimals (the
    paper's calculator); None for anything else, a division by zero or huge numbers."""
    text = _THOUSANDS.sub("", expression).replace("×", "*").replace("÷", "/").replace("x", "*")
    try:
        tree = ast.parse(text, mode="eval")
        value = _evaluate(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    if abs(value) > LIMIT:
        return None
    rounded = round(float(value), 2)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.2f}".rstrip("0")


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool) or abs(node.value) > LIMIT:
            raise ValueError("not a number, or too large")
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        result = float(_OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right)))
        if abs(result) > LIMIT:
            raise ValueError("too large")
        return result
    raise ValueError("not arithmetic")


def calendar(day: dt.date) -> str:
    """What the calendar answers: "Today is Monday, January 30, 2023." """
    return f"Today is {day:%A}, {day:%B} {day.day}, {day.year}."


def seed_date(payload: dict[str, Any], fallback: str) -> dt.date | None:
    """The text's own date (meta "date", ISO), else the run's `today` param; None: neither."""
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    for raw in (str((meta or {}).get("date") or "")[:10], fallback[:10]):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            continue
    return None


def numbers(text: str) -> int:
    return len(_NUMBER.findall(text))


def snippet(text: str, words: int = 30) -> str:
    """A search result as the paper's WikiSearch gives it: the start of a passage."""
    cut = text.split()
    return " ".join(cut[:words]) + (" …" if len(cut) > words else "")


def clean(result: str) -> str:
    """A result as it goes inline: one line, no brackets that would end the call early."""
    return " ".join(result.replace("[", "(").replace("]", ")").split())


def answer_line(reply: str, words: int = 20) -> str:
    """The QA tool's answer: the reply's first non-empty line, at most `words` words."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:answer|a)\s*:\s*", "", line, flags=re.IGNORECASE)
    return " ".join(line.split()[:words]).strip("[]")
