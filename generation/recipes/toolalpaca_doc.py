"""ToolAlpaca's generated API documentation: the doc schema it must validate against, the
checks a JSON Schema cannot express, and the tools it becomes.

A doc is a functions list, one OpenAPI operation each, in OpenAI's tools vocabulary:

    {"description": "Facts about cats.",
     "functions": [{"name": "getRandomFact", "description": "One random cat fact.",
                    "parameters": {"type": "object", "properties": {
                        "max_length": {"type": "integer", "description": "..."}},
                        "required": []},
                    "response": {"type": "object", "properties": {
                        "fact": {"type": "string"}}, "required": ["fact"]}}]}

Each function is registered with the run's tool simulator under a name scoped to its
documentation (`CatFacts.getRandomFact@<digest>`): the project's tool cache keys answers by
tool name, and two items' docs for one brief may give a function of the same name another
response schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from generation.recipes.base import SeedRow
from generation.tools.definitions import ToolDef

MAX_FUNCTIONS = 12
NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
PARAMETER_TYPES = ("string", "integer", "number", "boolean", "array", "object")
PARAMETER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"enum": list(PARAMETER_TYPES)},
        "description": {"type": "string"},
        "enum": {"type": "array", "minItems": 1},
        "items": {"type": "object"},
    },
    "required": ["type"],
}
OBJECT_SCHEMA: dict[str, Any] = {  # the arguments, and the response: a JSON Schema object
    "type": "object",
    "properties": {
        "type": {"const": "object"},
        "properties": {"type": "object"},
        "required": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["type", "properties"],
}
# The doc schema: what ① GEN is asked for (structured output) and checked against.
DOC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "functions": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_FUNCTIONS,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": NAME_PATTERN},
                    "description": {"type": "string", "minLength": 1},
                    "parameters": {
                        **OBJECT_SCHEMA,
                        "properties": {
                            **OBJECT_SCHEMA["properties"],
                            "properties": {"type": "object", "additionalProperties": PARAMETER},
                        },
                    },
                    "response": OBJECT_SCHEMA,
                },
                "required": ["name", "description", "parameters", "response"],
            },
        },
    },
    "required": ["functions"],
}


@dataclass(frozen=True)
class Brief:
    """A public-apis style line: a name, one sentence, a category."""

    name: str
    description: str
    category: str

    @classmethod
    def of(cls, seed: SeedRow) -> Brief:
        function = seed.payload.get("function") or {}
        meta = seed.payload.get("meta") or {}
        return cls(
            str(function.get("name") or seed.payload.get("name") or ""),
            str(function.get("description") or ""),
            str(meta.get("category") or ""),
        )


@dataclass(frozen=True)
class Doc:
    brief: Brief
    description: str
    functions: tuple[dict[str, Any], ...]  # each as the doc schema has it

    def function(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.functions if f["name"] == name), None)

    def tools(self) -> list[dict[str, Any]]:
        """The functions as an OpenAI tools list (what the trajectory's assistant calls)."""
        return [
            {
                "type": "function",
                "function": {
                    "name": f["name"],
                    "description": f["description"],
                    "parameters": f["parameters"],
                },
            }
            for f in self.functions
        ]

    def simulated_name(self, name: str) -> str:
        """The function's name with the tool simulator: scoped to this documentation."""
        function = self.function(name)
        blob = json.dumps([self.brief.name, function], sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        return f"{self.brief.name[:40]}.{name}@{digest}"

    def tool_defs(self) -> list[ToolDef]:
        """What the tool simulator knows: each function with its response schema."""
        about = (
            f"A function of the {self.brief.name} API: {self.description or self.brief.description}"
        )
        return [
            ToolDef(
                name=self.simulated_name(f["name"]),
                description=f"{f['description']}\n{about}",
                parameters=f["parameters"],
                response_schema=f["response"],
            )
            for f in self.functions
        ]

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "functions": list(self.functions)}

    def listing(self) -> str:
        """The functions as the user and assistant agents read them."""
        lines = []
        for f in self.functions:
            args = json.dumps(f["parameters"].get("properties") or {}, ensure_ascii=False)
            required = ", ".join(f["parameters"].get("required") or []) or "none"
            lines.append(f"- {f['name']}: {f['description']}\n  Arguments: {args}")
            lines.append(f"  Required: {required}")
        return "\n".join(lines)


def doc_problem(value: Any) -> str:
    """Why `value` is not a valid doc ("" when it is): the doc schema, then what it cannot
    say (required arguments that are documented, distinct names, response schemas)."""
    validator = jsonschema.Draft202012Validator(DOC_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        return f"at {where}: {error.message[:300]}"
    names = [f["name"] for f in value["functions"]]
    if len(set(names)) != len(names):
        return "two functions have the same name"
    for f in value["functions"]:
        for part in ("parameters", "response"):
            schema = f[part]
            missing = set(schema.get("required") or []) - set(schema["properties"])
            if missing:
                return f"{f['name']}: {part} requires undocumented {sorted(missing)}"
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                return f"{f['name']}: {part} is not a JSON Schema: {exc.message[:200]}"
    return ""


def parse_doc(brief: Brief, value: Any) -> Doc | str:
    """The doc, or the reason it is refused."""
    problem = doc_problem(value)
    if problem:
        return problem
    assert isinstance(value, Mapping)
    functions = tuple(dict(f) for f in value["functions"])
    return Doc(brief, str(value.get("description") or ""), functions)
