"""Gorilla's API calls: the model's (instruction, API call, explanation) pairs, each call
parsed as a Python call expression (or a JSON call), and the AST match against the API
database that tells a right call from a wrong API, a bad argument list or a hallucination.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from generation.tools import bfcl

_FENCE = re.compile(r"```[a-zA-Z]*\n?")
_LABEL = re.compile(
    r"^\s*(?:[-*#\d.)\s]*)(instruction|api[ _]?call|call|explanation)\s*[:=]\s*(.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Pair:
    instruction: str
    call: str  # the call as the model wrote it
    explanation: str


@dataclass(frozen=True)
class Parsed:
    name: str
    arguments: dict[str, Any] | None  # None: the call did not parse
    error: str = ""

    def render(self) -> str:
        """The call in one canonical form: keyword arguments, Python literals."""
        args = ", ".join(f"{k}={v!r}" for k, v in (self.arguments or {}).items())
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Match:
    verdict: str  # "match", "wrong_api", "ast_mismatch", "hallucination", "unparsable"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict == "match"


def pairs(text: str) -> list[Pair]:
    """The pairs in a reply: a JSON list (or JSON lines) of objects, else labelled blocks
    ("Instruction: … / API call: … / Explanation: …"). Incomplete pairs are left out."""
    cleaned = _FENCE.sub("", text)
    found = _json_pairs(cleaned)
    return found if found else _labelled_pairs(cleaned)


def _field(obj: dict[str, Any], *names: str) -> Any:
    low = {str(k).lower().replace(" ", "_"): v for k, v in obj.items()}
    return next((low[n] for n in names if n in low), "")


def _as_pair(obj: Any) -> Pair | None:
    if not isinstance(obj, dict):
        return None
    instruction = _field(obj, "instruction", "query", "question")
    call = _field(obj, "api_call", "call", "apicall", "code")
    if isinstance(call, dict):
        call = json.dumps(call)
    explanation = _field(obj, "explanation", "reason")
    if not isinstance(instruction, str) or not isinstance(call, str):
        return None
    if not instruction.strip() or not call.strip():
        return None
    return Pair(instruction.strip(), call.strip(), str(explanation or "").strip())


def _json_pairs(text: str) -> list[Pair]:
    start, end = text.find("["), text.rfind("]")
    if 0 <= start < end:
        try:
            data = json.loads(text[start : end + 1])
        except ValueError:
            data = None
        if isinstance(data, list):
            return [p for p in map(_as_pair, data) if p]
    out = []
    for line in text.splitlines():
        line = line.strip().rstrip(",")
        if line.startswith("{"):
            try:
                pair = _as_pair(json.loads(line))
            except ValueError:
                continue
            if pair:
                out.append(pair)
    return out


def _labelled_pairs(text: str) -> list[Pair]:
    out: list[Pair] = []
    current: dict[str, str] = {}

    def close() -> None:
        pair = _as_pair(current)
        if pair:
            out.append(pair)
        current.clear()

    for line in text.splitlines():
        m = _LABEL.match(line)
        if not m:
            continue
        label = m.group(1).lower().replace(" ", "_")
        label = "api_call" if label in ("apicall", "call") else label
        if label == "instruction" and current:
            close()
        current[label] = m.group(2).strip().strip("`").strip()
    close()
    return out


def parse_call(text: str, order: list[str] | None = None) -> Parsed:
    """A Python call expression `pkg.api(arg=1, ...)` (positional arguments take the API's
    parameters in order) or a JSON call {"name": ..., "arguments": {...}}. Only literal
    values are accepted: the call is read, never run."""
    text = text.strip().strip("`").strip().rstrip(";")
    if text.startswith("{"):
        return _json_call(text)
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError) as exc:
        return Parsed("", None, f"not a Python call: {exc.__class__.__name__}")
    if not isinstance(node, ast.Call):
        return Parsed("", None, "not a call expression")
    name = _dotted(node.func)
    if not name:
        return Parsed("", None, "the called function is not a (dotted) name")
    args: dict[str, Any] = {}
    order = order or []
    try:
        if len(node.args) > len(order):
            return Parsed(name, None, f"{len(node.args)} positional arguments for {len(order)}")
        for param, value in zip(order, node.args, strict=False):
            args[param] = ast.literal_eval(value)
        for kw in node.keywords:
            if kw.arg is None:
                return Parsed(name, None, "**kwargs are not accepted")
            args[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        return Parsed(name, None, "an argument is not a literal value")
    return Parsed(name, args)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _json_call(text: str) -> Parsed:
    try:
        data = json.loads(text)
    except ValueError:
        return Parsed("", None, "not a JSON call")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return Parsed("", None, "a JSON call needs a name")
    args = data.get("arguments", data.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            args = None
    if not isinstance(args, dict):
        return Parsed(data["name"], None, "the arguments are not an object")
    return Parsed(data["name"], args)


def unknown_ids(arguments: dict[str, Any], function: dict[str, Any]) -> list[str]:
    """Arguments whose parameter lists its known values (`enum`: model ids, …) but whose
    value is none of them: a model or resource the database does not have."""
    properties = (function.get("parameters") or {}).get("properties") or {}
    out = []
    for param, value in arguments.items():
        known = (properties.get(param) or {}).get("enum")
        if isinstance(known, list) and value not in known:
            out.append(f"{param}={value!r} is not a known value ({', '.join(map(str, known))})")
    return out


def match(call: Parsed, api: dict[str, Any], database: list[dict[str, Any]]) -> Match:
    """The AST sub-tree match of one call against the item's API (OpenAI function dicts):
    an unknown name or model id is a hallucination; another known API is a wrong API; the
    API's own docs then check required, unknown and typed arguments (BFCL's docs-only mode)."""
    if call.arguments is None:
        return Match("unparsable", [call.error])
    known = {f["name"]: f for f in database}
    # OpenAI-style names cannot hold ".", so "torch_hub_load" may stand for "torch.hub.load".
    name = next((n for n in known if call.name in (n, n.replace(".", "_"))), call.name)
    if name not in known:
        return Match("hallucination", [f"{call.name!r} is not an API of the database"])
    ids = unknown_ids(call.arguments, known[name])
    if ids:
        return Match("hallucination", ids)
    if name != api["name"]:
        return Match("wrong_api", [f"called {name!r}; the documented API is {api['name']!r}"])
    verdict = bfcl.check([bfcl.Call(api["name"], call.arguments)], [api], None)
    if not verdict.valid:
        return Match("ast_mismatch", verdict.reasons)
    return Match("match")
