"""One argument against its acceptable values, by BFCL's rules: first its type, then its value.

Types are read from the parameter's schema, in BFCL's python names (dict, float, tuple, any)
or JSON Schema's (object, number). Values come from parsed JSON, so a tuple is a list.
"""

from __future__ import annotations

import re
from typing import Any

# The Python type of parsed JSON that each type name stands for. A name not here ("any",
# none, or one we do not know) admits every value.
TYPES: dict[str, type] = {
    "string": str, "str": str,
    "integer": int, "int": int,
    "float": float, "number": float,
    "boolean": bool, "bool": bool,
    "array": list, "list": list, "tuple": list,
    "dict": dict, "object": dict,
    "null": type(None),
}  # fmt: skip
_JSON_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array"}
_JSON_NAMES |= {dict: "dict", type(None): "null"}
# BFCL's standardisation drops these characters (the space only: not tabs or newlines).
_DROPPED = re.compile(r"[ ,./\-_*^]")


def normalise(text: str) -> str:
    """BFCL's string standardisation: without spaces and , . / - _ * ^, lower case, ' as "."""
    return _DROPPED.sub("", text).lower().replace("'", '"')


def declared(schema: Any) -> tuple[type, ...] | None:
    """The Python types a parameter's schema admits; None when it admits anything."""
    raw = schema.get("type") if isinstance(schema, dict) else None
    found = []
    for name in raw if isinstance(raw, list) else [raw]:
        kind = TYPES.get(name.lower()) if isinstance(name, str) else None
        if kind is None:
            return None
        found.append(kind)
    return tuple(found)


def has_type(value: Any, types: tuple[type, ...]) -> bool:
    """An int counts as a float (BFCL converts it); a bool is never an int, nor an int a bool."""
    kind = type(value)
    return kind in types or (kind is int and float in types)


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) or isinstance(b, list):
        return (
            isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same(a[k], b[k]) for k in a)
        )
    return bool(a == b)


def as_list(options: Any) -> list[Any]:
    return options if isinstance(options, list) else [options]


def answer_type(options: list[Any]) -> type | None:
    """The type of the first acceptable value that is not "" (BFCL's "may be omitted")."""
    return next((type(o) for o in options if not (isinstance(o, str) and o == "")), None)


def type_name(schema: Any) -> str:
    raw = schema.get("type") if isinstance(schema, dict) else None
    return " or ".join(raw) if isinstance(raw, list) else str(raw)


def json_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _is_variable(types: tuple[type, ...] | None, options: list[Any]) -> bool:
    """BFCL's "variable": the acceptable values have another type than the declared one
    (a name standing for the value), so a value is compared with them as it is."""
    gold = answer_type(options)
    return types is not None and gold is not None and gold not in types


def type_problem(value: Any, schema: Any, options: list[Any]) -> str:
    """Why the value's type is not acceptable ("" when it is). Array items are checked at
    every depth against the items' schema (BFCL checks one level)."""
    types = declared(schema)
    if types is None:
        return ""
    if has_type(value, types):
        items = schema.get("items")
        if type(value) is list and isinstance(items, dict):
            inner = [x for o in options if isinstance(o, list) for x in o]
            for i, item in enumerate(value):
                why = type_problem(item, items, inner)
                if why:
                    return f"item {i}: {why}"
        return ""
    if _is_variable(types, options) and type(value) is answer_type(options):
        return ""
    return f"expected {type_name(schema)}, got {json_name(value)} {short(value)}"


def value_problem(value: Any, schema: Any, options: list[Any]) -> str:
    """Why the value is none of the acceptable values ("" when it is one). Strings compare
    normalised; objects key by key against each acceptable pattern; lists item by item."""
    types = declared(schema)
    if _is_variable(types, options):
        return "" if _member(value, options, text=False) else _not_one_of(value, options)
    if isinstance(value, str) or types is None:
        ok = _member(value, options, text=True)
        return "" if ok else _not_one_of(value, options, text=isinstance(value, str))
    if isinstance(value, dict):
        return _dict_problem(value, options)
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        if declared(items) == (dict,):
            return _dicts_problem(value, options)
        return _list_problem(value, options)
    return "" if _member(value, options, text=False) else _not_one_of(value, options)


def _member(value: Any, options: list[Any], *, text: bool) -> bool:
    if text and isinstance(value, str):
        return normalise(value) in {normalise(o) for o in options if isinstance(o, str)}
    return any(same(value, o) for o in options)


def _normalised_items(items: list[Any]) -> list[Any]:
    return [normalise(x) if isinstance(x, str) else x for x in items]


def _list_problem(value: list[Any], options: list[Any]) -> str:
    got = _normalised_items(value)
    for option in options:
        option = [] if option == "" else option  # BFCL reads "" as the empty list here
        if isinstance(option, list) and same(got, _normalised_items(option)):
            return ""
    return _not_one_of(value, options, text=any(isinstance(x, str) for x in value))


def _dict_problem(value: dict[str, Any], options: list[Any]) -> str:
    why = _not_one_of(value, options)
    for pattern in options:
        if isinstance(pattern, dict):
            why = _pattern_problem(value, pattern)
            if not why:
                return ""
    return why


def _pattern_problem(value: dict[str, Any], pattern: dict[str, Any]) -> str:
    """An object against one acceptable pattern: {key: [acceptable values]}."""
    for key, item in value.items():
        if key not in pattern:
            return f"unexpected key {key!r}"
        if not _member(item, as_list(pattern[key]), text=True):
            return f"key {key!r}: {_not_one_of(item, as_list(pattern[key]))}"
    for key, acceptable in pattern.items():
        if key not in value and "" not in as_list(acceptable):
            return f"key {key!r} is missing"
    return ""


def _dicts_problem(value: list[Any], options: list[Any]) -> str:
    """A list of objects against acceptable lists of patterns, in order."""
    why = _not_one_of(value, options)
    for option in options:
        option = [] if option == "" else option
        if not isinstance(option, list):
            continue
        if len(option) != len(value):
            why = f"expected {len(option)} objects, got {len(value)}"
            continue
        for i, (item, pattern) in enumerate(zip(value, option, strict=True)):
            ok = isinstance(item, dict) and isinstance(pattern, dict)
            why = _pattern_problem(item, pattern) if ok else "not an object"
            if why:
                why = f"object {i}: {why}"
                break
        else:
            return ""
    return why


def _not_one_of(value: Any, options: list[Any], *, text: bool = False) -> str:
    shown = [o for o in options if o != ""] or options
    note = " (compared without case, spaces or , . / - _ * ^)" if text else ""
    return f"{short(value)} is not one of {short(shown)}{note}"


def short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
