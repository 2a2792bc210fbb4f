"""What the tool simulator knows of a tool: its documentation, its response schema, and
where real answers come from (a Python implementation, recorded responses), if anywhere.

From a `tool_spec` seed (curation/seeds/kinds/tool_spec.py), whose importer keeps fields it
does not know under `payload["meta"]`; so a seed names them at its top level or inside
"function", next to "parameters":

    {"type": "function",
     "function": {"name": "get_weather", "description": "...", "parameters": {...}},
     "response_schema": {"type": "object", "properties": {...}},          # JSON Schema
     "implementation": {"code": "def get_weather(city): ...",             # or just the code
                        "entry": "get_weather", "limits": {"wall_s": 2}},
     "responses": [{"arguments": {"city": "Oslo"}, "response": {...}}]}   # recorded

The implementation is untrusted code: it runs only in the sandbox (generation/sandbox).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from generation.recipes.base import SeedRow
from generation.sandbox import Limits

TOOL_KIND = "tool_spec"


@dataclass(frozen=True)
class Implementation:
    code: str  # a module defining `entry`
    entry: str  # called with the call's arguments as keywords
    limits: Limits | None = None  # the sandbox's defaults where None


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    response_schema: Mapping[str, Any] | None = None  # simulated answers must validate
    implementation: Implementation | None = None
    recorded: tuple[tuple[Any, Any], ...] = ()  # (arguments, response) pairs

    def __post_init__(self) -> None:
        if self.response_schema is not None:
            if not isinstance(self.response_schema, Mapping):
                raise ValueError(f"tool {self.name!r}: response_schema must be a JSON Schema")
            try:
                jsonschema.validators.validator_for(self.response_schema).check_schema(
                    self.response_schema
                )
            except jsonschema.SchemaError as exc:
                raise ValueError(
                    f"tool {self.name!r}: response_schema is not a valid JSON Schema: {exc.message}"
                ) from exc

    def tool(self) -> dict[str, Any]:
        """The entry of an OpenAI `tools` list."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ToolDef:
        """A tool_spec seed's payload; ValueError names what is wrong with its extra fields."""
        function = payload.get("function") or {}
        name = str(function.get("name") or "")
        meta = payload.get("meta") or {}
        return cls(
            name=name,
            description=str(function.get("description") or ""),
            parameters=function.get("parameters") or {"type": "object"},
            response_schema=meta.get("response_schema"),
            implementation=_implementation(name, meta.get("implementation")),
            recorded=_recorded(name, meta.get("responses")),
        )


def tools_from_seeds(seeds: Iterable[SeedRow]) -> dict[str, ToolDef]:
    """The tools of a run's tool_spec seeds, by name."""
    tools = (ToolDef.from_payload(s.payload) for s in seeds if s.kind == TOOL_KIND)
    return {t.name: t for t in tools}


def _implementation(name: str, raw: Any) -> Implementation | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"code": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
        raise ValueError(f"tool {name!r}: implementation must be code, or an object with 'code'")
    entry = raw.get("entry") or name
    if not isinstance(entry, str) or not entry.isidentifier():
        raise ValueError(f"tool {name!r}: implementation entry {entry!r} is not a Python name")
    limits = raw.get("limits")
    if limits is not None and not isinstance(limits, dict):
        raise ValueError(f"tool {name!r}: implementation limits must be an object")
    try:
        lim = Limits.of(**limits) if limits else None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tool {name!r}: {exc}") from exc
    return Implementation(raw["code"], entry, lim)


def _recorded(name: str, raw: Any) -> tuple[tuple[Any, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"tool {name!r}: responses must be a list")
    pairs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("arguments"), dict):
            raise ValueError(f"tool {name!r}: responses[{i}] needs 'arguments' (an object)")
        if "response" not in item:
            raise ValueError(f"tool {name!r}: responses[{i}] has no 'response'")
        pairs.append((item["arguments"], item["response"]))
    return tuple(pairs)
