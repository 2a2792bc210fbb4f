"""OpenAPI 3 documents: each operation becomes one tool.

The tool's arguments are the operation's parameters (path-level ones included) plus the
properties of its JSON request body, merged into one JSON Schema object; `param_in` says
where each argument goes. Local `$ref`s are inlined with a depth limit, a recursive one is
left unexpanded, and a node budget stops documents whose references multiply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from curation.seeds.kinds.common import MAX_DEPTH, Loc, ParsedSeed, Record, json_type, short

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LOCATIONS = ("path", "query", "header", "cookie")
REF_DEPTH = 16  # references followed inside one another
NODES_PER_TOOL = 20_000  # far more than a usable tool schema; a bound on $ref blow-ups
NODES_PER_DOCUMENT = 1_000_000
_DEPTH = MAX_DEPTH - 8  # leaves room for the payload's own levels
_UNSAFE = re.compile(r"[^a-zA-Z0-9.-]+")  # runs of these (and of "_") become one "_"


def is_document(data: dict[str, Any]) -> bool:
    return "paths" in data and ("openapi" in data or "swagger" in data)


def parse(rec: Record, build: Callable[..., ParsedSeed]) -> list[ParsedSeed]:
    doc, ctx = rec.data, rec.ctx
    if "openapi" not in doc:
        raise rec.error(
            "Swagger 2.0 documents are not supported; convert the document to OpenAPI 3 "
            "(for example with swagger2openapi) and upload it again",
            "swagger",
        )
    version = doc["openapi"]
    if not isinstance(version, str) or not version.startswith("3."):
        raise rec.error(f"field 'openapi' must be a 3.x version, got {short(version)}", "openapi")
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        raise rec.error(f"field 'paths' must be an object, got {json_type(paths)}", "paths")
    info = doc.get("info")
    info = info if isinstance(info, dict) else {}
    api = {k: info[k] for k in ("title", "version") if isinstance(info.get(k), str)}
    resolver = _Resolver(doc, rec.loc)
    server = _server(doc.get("servers"))
    seeds: list[ParsedSeed] = []
    for path, item in paths.items():
        if not isinstance(path, str):
            raise rec.error(f"field 'paths' has a key that is not a string: {short(path)}")
        resolver.start(f"path {path}: ")
        item = resolver.value(item, f"paths.{path}", shallow=True)
        if not isinstance(item, dict):
            raise rec.error(f"field 'paths.{path}' must be an object, got {json_type(item)}")
        for method in METHODS:
            if item.get(method) is None:
                continue
            if ctx.count + len(seeds) >= ctx.max_rows:
                raise ctx.too_many(f"more than {ctx.max_rows:,}")
            seeds.append(
                _operation(
                    rec,
                    build,
                    resolver,
                    method,
                    path,
                    item,
                    _server(item.get("servers")) or server,
                    api,
                )
            )
    if not seeds:
        raise rec.error("the OpenAPI document has no operations under 'paths'", "paths")
    return seeds


def tool_name(raw: str) -> str:
    """A valid tool name from an operationId or "method_path"."""
    return _UNSAFE.sub("_", raw).strip("_.-")[:64].rstrip("_.-") or "operation"


def _operation(
    rec: Record,
    build: Callable[..., ParsedSeed],
    resolver: _Resolver,
    method: str,
    path: str,
    item: dict[str, Any],
    server: str,
    api: dict[str, str],
) -> ParsedSeed:
    context = f"operation {method.upper()} {path}: "
    where = f"paths.{path}.{method}"
    resolver.start(context)
    op = resolver.value(item[method], where, shallow=True)
    if not isinstance(op, dict):
        raise rec.loc.error(f"{context}field {where!r} must be an object", field=where)
    server = _server(op.get("servers")) or server
    properties: dict[str, Any] = {}
    required: list[str] = []
    param_in: dict[str, str] = {}
    for name, location, schema, needed in _parameters(resolver, item, op, where, rec.loc):
        if name in properties:
            raise rec.loc.error(
                f"{context}parameter {name!r} is given both in {param_in[name]} and in {location}",
                field=f"{where}.parameters",
            )
        properties[name], param_in[name] = schema, location
        if needed:
            required.append(name)
    _request_body(resolver, op, where, rec.loc, properties, required, param_in)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    operation_id = op.get("operationId")
    name = tool_name(operation_id if isinstance(operation_id, str) else f"{method}_{path}")
    texts = [op.get(k) for k in ("summary", "description")]
    description = "\n\n".join(
        dict.fromkeys(t.strip() for t in texts if isinstance(t, str) and t.strip())
    )
    meta: dict[str, Any] = {}
    if isinstance(operation_id, str):
        meta["operation_id"] = operation_id
    if isinstance(op.get("tags"), list):
        meta["tags"] = op["tags"]
    if op.get("deprecated") is True:
        meta["deprecated"] = True
    if api:
        meta["api"] = api
    response_schema = _response_schema(resolver, op, where)
    if response_schema is not None:
        meta["response_schema"] = response_schema
    return build(
        rec.loc,
        rec.ctx,
        name=name,
        description=description,
        parameters=parameters,
        meta=meta,
        context=context,
        http={"method": method.upper(), "path": path, "server": server},
        param_in=param_in,
    )


def _parameters(
    resolver: _Resolver, item: dict[str, Any], op: dict[str, Any], where: str, loc: Loc
) -> list[tuple[str, str, dict[str, Any], bool]]:
    # Operation parameters override path-level ones with the same name and location.
    found: dict[tuple[str, str], tuple[str, str, dict[str, Any], bool]] = {}
    for owner, base in ((item, where.rsplit(".", 1)[0]), (op, where)):
        raw = owner.get("parameters")
        if raw is None:
            continue
        if not isinstance(raw, list):
            raise loc.error(f"{resolver.context}field '{base}.parameters' must be a list")
        for i, entry in enumerate(raw):
            at = f"{base}.parameters[{i}]"
            param = resolver.value(entry, at)
            name = param.get("name") if isinstance(param, dict) else None
            location = param.get("in") if isinstance(param, dict) else None
            if (
                not isinstance(param, dict)
                or not isinstance(name, str)
                or not name
                or not isinstance(location, str)
                or location not in LOCATIONS
            ):
                raise loc.error(
                    f"{resolver.context}field {at!r} needs a 'name' and an 'in' of "
                    f"{', '.join(LOCATIONS)}",
                    field=at,
                )
            schema = (
                _media_schema(param.get("content")) if "schema" not in param else param["schema"]
            )
            schema = dict(schema) if isinstance(schema, dict) else {}
            if isinstance(param.get("description"), str) and "description" not in schema:
                schema["description"] = param["description"]
            needed = location == "path" or param.get("required") is True
            found[(name, location)] = (name, location, schema, needed)
    return list(found.values())


def _request_body(
    resolver: _Resolver,
    op: dict[str, Any],
    where: str,
    loc: Loc,
    properties: dict[str, Any],
    required: list[str],
    param_in: dict[str, str],
) -> None:
    if op.get("requestBody") is None:
        return
    body = resolver.value(op["requestBody"], f"{where}.requestBody")
    if not isinstance(body, dict):
        raise loc.error(f"{resolver.context}field '{where}.requestBody' must be an object")
    schema = _media_schema(body.get("content"))
    if schema is None:
        return
    needed = body.get("required") is True
    fields = schema.get("properties")
    is_object = schema.get("type", "object") == "object"
    if is_object and isinstance(fields, dict) and not (fields.keys() & properties.keys()):
        for name, sub in fields.items():
            properties[name], param_in[name] = sub, "body"
        inner = schema.get("required")
        if needed and isinstance(inner, list):
            required.extend(r for r in inner if isinstance(r, str) and r in fields)
        return
    if "body" in properties:
        raise loc.error(
            f"{resolver.context}the request body cannot be an argument: a parameter is "
            "already named 'body'",
            field=f"{where}.requestBody",
        )
    properties["body"], param_in["body"] = schema, "request_body"
    if needed:
        required.append("body")


def _response_schema(resolver: _Resolver, op: dict[str, Any], where: str) -> dict[str, Any] | None:
    # The success answer's JSON schema, for the tool simulator: 200 first, then any 2xx,
    # then the range "2XX", then "default". None when the operation documents none.
    raw = op.get("responses")
    if not isinstance(raw, dict):
        return None
    codes = [str(c) for c in raw]
    ordered = (
        [c for c in codes if c == "200"]
        + sorted(
            c for c in codes if len(c) == 3 and c.startswith("2") and c.isdigit() and c != "200"
        )
        + [c for c in codes if c.upper() == "2XX"]
        + [c for c in codes if c == "default"]
    )
    for code in ordered:
        key = code if code in raw else int(code)
        answer = resolver.value(raw[key], f"{where}.responses.{code}")
        if isinstance(answer, dict):
            schema = _media_schema(answer.get("content"))
            if schema is not None:
                return schema
    return None


def _media_schema(content: Any) -> dict[str, Any] | None:
    # JSON first; else form bodies, whose schemas are objects too; else whatever comes first.
    if not isinstance(content, dict) or not content:
        return None
    types = [t for t in content if isinstance(t, str)]
    preferred = (
        [t for t in types if t.split(";")[0].strip() == "application/json"]
        + [t for t in types if "json" in t]
        + [t for t in types if t.startswith(("application/x-www-form-urlencoded", "multipart/"))]
        + types
    )
    for media in preferred:
        entry = content[media]
        if isinstance(entry, dict) and isinstance(entry.get("schema"), dict):
            return dict(entry["schema"])
    return None


def _server(servers: Any) -> str:
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = servers[0].get("url")
        return url if isinstance(url, str) else ""
    return ""


class _Resolver:
    """Copies parts of the document with local $refs inlined, within a node budget."""

    def __init__(self, doc: dict[str, Any], loc: Loc) -> None:
        self.doc, self.loc = doc, loc
        self.context = ""
        self.total = 0
        self.tool = 0

    def start(self, context: str) -> None:
        self.context, self.tool = context, 0

    def value(self, node: Any, path: str, *, shallow: bool = False) -> Any:
        """Resolve `node`; shallow: follow a $ref at the top only (path items, operations)."""
        if shallow:
            seen: tuple[str, ...] = ()
            while isinstance(node, dict) and "$ref" in node:
                ref = node["$ref"]
                self._check(ref, path, seen)
                seen, node, path = (*seen, ref), self._lookup(ref, path), _pointer_path(ref)
            return node
        return self._copy(node, path, 0, ())

    def _copy(self, node: Any, path: str, depth: int, stack: tuple[str, ...]) -> Any:
        self.tool += 1
        self.total += 1
        if self.tool > NODES_PER_TOOL:
            raise self.loc.error(
                f"{self.context}the schema expands to more than {NODES_PER_TOOL:,} nodes "
                "(do its $refs multiply?)",
                field=path,
            )
        if self.total > NODES_PER_DOCUMENT:
            raise self.loc.error(
                f"the document's schemas expand to more than {NODES_PER_DOCUMENT:,} nodes"
            )
        if depth > _DEPTH:
            raise self.loc.error(
                f"{self.context}field {path!r} is nested more than {_DEPTH} levels deep",
                field=path,
            )
        if isinstance(node, dict):
            if "$ref" in node:
                return self._follow(node, path, depth, stack)
            return {k: self._copy(v, f"{path}.{k}", depth + 1, stack) for k, v in node.items()}
        if isinstance(node, list):
            return [self._copy(v, f"{path}[{i}]", depth + 1, stack) for i, v in enumerate(node)]
        return node

    def _follow(self, node: dict[str, Any], path: str, depth: int, stack: tuple[str, ...]) -> Any:
        ref = node["$ref"]
        if isinstance(ref, str) and ref in stack:  # a recursive schema (a tree): stop here
            return {"description": f"(recursive reference to {ref}, not expanded)"}
        self._check(ref, path, stack)
        target = self._copy(self._lookup(ref, path), _pointer_path(ref), depth + 1, (*stack, ref))
        siblings = {k: v for k, v in node.items() if k != "$ref"}  # OpenAPI 3.1 allows these
        if siblings and isinstance(target, dict):
            return target | self._copy(siblings, path, depth + 1, stack)
        return target

    def _check(self, ref: Any, path: str, stack: tuple[str, ...]) -> None:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise self.loc.error(
                f"{self.context}field '{path}.$ref' is {short(ref)}: only references inside "
                "the document ('#/components/...') are followed",
                field=f"{path}.$ref",
            )
        if len(stack) >= REF_DEPTH or ref in stack:
            raise self.loc.error(
                f"{self.context}field '{path}.$ref' goes more than {REF_DEPTH} references deep",
                field=f"{path}.$ref",
            )

    def _lookup(self, ref: str, path: str) -> Any:
        node: Any = self.doc
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise self.loc.error(
                    f"{self.context}field '{path}.$ref' points to {short(ref)}, "
                    "which the document does not have",
                    field=f"{path}.$ref",
                )
        return node


def _pointer_path(ref: str) -> str:
    return ".".join(p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/"))
