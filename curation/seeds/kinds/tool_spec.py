"""Tools an assistant may call, normalised to OpenAI's tools shape (APIGen, ToolAlpaca, Magnet).

Accepted: OpenAI tools JSON (wrapped in {"type": "function", "function": ...} or bare),
BFCL function docs (whose python type names become JSON Schema types), and OpenAPI 3
documents (see openapi.py: one tool per operation).
"""

from __future__ import annotations

import re
from typing import Any, cast

from curation.seeds.kinds import openapi
from curation.seeds.kinds.common import (
    MAX_DEPTH,
    ImportContext,
    Loc,
    ParsedSeed,
    Record,
    clean,
    json_type,
    meta,
    short,
)
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="tool_spec",
    label="Tool / API spec",
    description="One callable tool as OpenAI's tools JSON. Accepts OpenAI tools (wrapped or "
    "bare), BFCL function docs (type 'dict', 'float', 'tuple', 'any' become JSON Schema) and "
    "OpenAPI 3 documents in JSON or YAML (one tool per operation, with its method, path and "
    "server).",
    fields=(
        FieldSpec("name", "1 to 64 letters, digits, '_', '.' or '-'.", required=True),
        FieldSpec("description", "What the tool does."),
        FieldSpec("parameters", "A JSON Schema object of the arguments (default: none)."),
    ),
    payload=("type", "function", "method", "path", "server", "param_in"),
    example={
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    },
    detected_by="'type': 'function' with 'function'; 'name' with 'parameters'; "
    "or an OpenAPI 3 document ('openapi' and 'paths')",
)

NAME = re.compile(r"[a-zA-Z0-9_.-]{1,64}")
# BFCL writes python type names; JSON Schema spells them differently. None: any type.
_TYPES: dict[str, str | None] = {
    "object": "object", "dict": "object",
    "string": "string", "str": "string",
    "integer": "integer", "int": "integer",
    "number": "number", "float": "number",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array", "tuple": "array",
    "null": "null", "any": None,
}  # fmt: skip
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_ONE = (
    "items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
    "additionalItems", "unevaluatedItems", "unevaluatedProperties",
)  # fmt: skip
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def parse(rec: Record) -> list[ParsedSeed]:
    data = rec.data
    if openapi.is_document(data):
        return openapi.parse(rec, tool_seed)
    if isinstance(data.get("function"), dict) and not rec.mapping:
        kind = data.get("type", "function")
        if kind != "function":
            raise rec.error(f"field 'type' must be 'function', got {short(kind)}", "type")
        fn = Record(data["function"], rec.loc, SPEC, rec.ctx, prefix="function.")
        outer = meta(data, {"type", "function"}, rec.loc)
    else:
        fn, outer = rec, {}
    name = fn.text("name", required=True)
    description = fn.text("description")
    parameters = fn.get("parameters")
    strict = fn.data.get("strict") if fn is not rec else None
    inner = fn.meta("strict") if fn is not rec else fn.meta()
    clash = sorted(outer.keys() & inner.keys())
    if clash:
        raise rec.error(f"field {clash[0]!r} is given both outside and inside 'function'")
    return [
        tool_seed(
            rec.loc,
            rec.ctx,
            name=name,
            description=description,
            parameters=parameters,
            path=fn.where("parameters"),
            meta=outer | inner,
            strict=strict,
        )
    ]


def tool_seed(
    loc: Loc,
    ctx: ImportContext,
    *,
    name: str,
    description: str,
    parameters: Any,
    path: str = "parameters",
    meta: dict[str, Any],
    strict: Any = None,
    context: str = "",
    http: dict[str, str] | None = None,
    param_in: dict[str, str] | None = None,
) -> ParsedSeed:
    """Validate one tool and build its seed; `context` prefixes messages (an operation)."""
    if not NAME.fullmatch(name):
        raise loc.error(
            f"{context}tool name {short(name)} is not valid: use 1 to 64 letters, digits, "
            "'_', '.' or '-'",
            field="name",
        )
    here = f"{loc.unit} {loc.number}".strip() or "this file"
    if name in ctx.tool_names:
        raise loc.error(
            f"{context}tool name {name!r} is already used by {ctx.tool_names[name]}", field="name"
        )
    ctx.tool_names[name] = f"{context.removesuffix(': ')} ({here})" if context else here
    function: dict[str, Any] = {
        "name": name,
        "description": description,
        "parameters": normalise_parameters(parameters, loc, path, context),
    }
    if isinstance(strict, bool):
        function["strict"] = strict
    http = http or {}
    payload = {
        "type": "function",
        "function": function,
        "method": http.get("method", ""),
        "path": http.get("path", ""),
        "server": http.get("server", ""),
        "param_in": param_in or {},
        "meta": meta,
    }
    payload = clean(payload, loc, "", 0)
    return ParsedSeed("tool_spec", payload, _render(payload), loc.number)


def normalise_parameters(value: Any, loc: Loc, path: str, context: str = "") -> dict[str, Any]:
    """A JSON Schema object for the arguments; BFCL's type names mapped to JSON Schema's."""
    if value is None:
        return {"type": "object", "properties": {}}
    if not isinstance(value, dict):
        raise loc.error(
            f"{context}field {path!r} must be a JSON Schema object, got {json_type(value)}",
            field=path,
        )
    schema = cast("dict[str, Any]", _schema(value, path, loc, context, 0))
    if "type" not in schema and not (schema.keys() & {"anyOf", "oneOf", "allOf", "$ref"}):
        schema = {"type": "object"} | schema
    if schema.get("type") != "object":
        raise loc.error(
            f"{context}field {path!r} must be a JSON Schema of type 'object', "
            f"got type {short(value.get('type'))}",
            field=f"{path}.type",
        )
    properties = schema.setdefault("properties", {})
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise loc.error(
            f"{context}field '{path}.required' must be a list of property names",
            field=f"{path}.required",
        )
    for name in required:
        if name not in properties:
            raise loc.error(
                f"{context}field '{path}.required' names {short(name)}, "
                f"which is not in '{path}.properties'",
                field=f"{path}.required",
            )
    return schema


def _schema(node: Any, path: str, loc: Loc, context: str, depth: int) -> dict[str, Any] | bool:
    if depth > MAX_DEPTH:
        raise loc.error(
            f"{context}field {path!r} is nested more than {MAX_DEPTH} levels deep", field=path
        )
    if isinstance(node, bool):  # JSON Schema's true (anything) and false (nothing)
        return node
    if not isinstance(node, dict):
        raise loc.error(
            f"{context}field {path!r} must be a schema object, got {json_type(node)}", field=path
        )
    out = dict(node)
    if "type" in out:
        _map_type(out, f"{path}.type", loc, context)

    def sub(value: Any, where: str) -> dict[str, Any] | bool:
        return _schema(value, where, loc, context, depth + 1)

    for key in _SCHEMA_MAPS:
        if key in out:
            value = out[key]
            if not isinstance(value, dict):
                raise loc.error(
                    f"{context}field '{path}.{key}' must be an object, got {json_type(value)}",
                    field=f"{path}.{key}",
                )
            out[key] = {k: sub(v, f"{path}.{key}.{k}") for k, v in value.items()}
    for key in _SCHEMA_ONE:
        if key in out:
            value = out[key]
            if key == "items" and isinstance(value, list):  # the old tuple form
                out[key] = [sub(v, f"{path}.items[{i}]") for i, v in enumerate(value)]
            else:
                out[key] = sub(value, f"{path}.{key}")
    for key in _SCHEMA_LISTS:
        if key in out:
            value = out[key]
            if not isinstance(value, list):
                raise loc.error(
                    f"{context}field '{path}.{key}' must be a list, got {json_type(value)}",
                    field=f"{path}.{key}",
                )
            out[key] = [sub(v, f"{path}.{key}[{i}]") for i, v in enumerate(value)]
    return out


def _map_type(schema: dict[str, Any], path: str, loc: Loc, context: str) -> None:
    raw = schema["type"]
    names = raw if isinstance(raw, list) else [raw]
    mapped: list[str] = []
    for name in names:
        if not isinstance(name, str) or name.lower() not in _TYPES:
            known = ", ".join(_TYPES)
            raise loc.error(
                f"{context}field {path!r} has unknown type {short(name)}; known: {known}",
                field=path,
            )
        json_name = _TYPES[name.lower()]
        if json_name is None:  # "any" admits every type: say nothing
            del schema["type"]
            return
        if json_name not in mapped:
            mapped.append(json_name)
    schema["type"] = mapped if isinstance(raw, list) else mapped[0]


def _render(payload: dict[str, Any]) -> str:
    function = payload["function"]
    lines = [f"{function['name']}: {function['description']}".rstrip(": ")]
    if payload["method"]:
        lines.append(f"{payload['method']} {payload['path']}")
    properties = function["parameters"].get("properties", {})
    for name, schema in list(properties.items())[:50]:
        if not isinstance(schema, dict):
            continue
        kind = schema.get("type", "any")
        note = schema.get("description", "")
        lines.append(f"- {name} ({kind}){': ' + note if isinstance(note, str) and note else ''}")
    return "\n".join(lines)
