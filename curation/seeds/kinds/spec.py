"""The shape of a kind's entry in the registry, and the checks recipes run against it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from curation.seeds.kinds.common import SeedImportError


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # the key in the normalised payload
    description: str
    required: bool = False
    aliases: tuple[str, ...] = ()  # other keys accepted in uploads, in order of preference

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class KindSpec:
    id: str
    label: str
    description: str
    fields: tuple[FieldSpec, ...]  # what an upload gives (and a mapping may rename)
    payload: tuple[str, ...]  # keys every normalised payload has, besides "meta"
    example: Mapping[str, Any]  # one record as it may be uploaded
    detected_by: str  # the shape automatic detection recognises, for people
    payload_optional: tuple[str, ...] = ()  # keys a payload may have

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def example_json(self) -> str:
        return json.dumps(self.example, indent=2, ensure_ascii=False)


def accepts(accepted: Iterable[str], present: Iterable[str]) -> bool:
    """Whether a recipe that accepts `accepted` kinds can run on a set holding `present` ones."""
    have = set(present)
    return bool(have) and have <= set(accepted)


def mismatch(accepted: Iterable[str], present: Iterable[str], *, what: str = "This recipe") -> str:
    """The message for a seed set a recipe cannot use; "" when it can."""
    wanted, have = sorted(set(accepted)), sorted(set(present))
    if accepts(wanted, have):
        return ""
    takes = " or ".join(wanted) or "no"
    if not have:
        return f"{what} takes {takes} seeds; the seed set holds no seeds."
    others = [k for k in have if k not in wanted]
    return f"{what} takes {takes} seeds; the seed set also holds {', '.join(others)}."


def check_mapping(
    kinds: Mapping[str, KindSpec], kind: str | None, mapping: Mapping[str, str]
) -> dict[str, str]:
    """Validate an uploader's field mapping (payload field -> uploaded key) for `kind`."""
    if kind is not None and kind not in kinds:
        raise SeedImportError(f"unknown seed kind {kind!r}; kinds: {', '.join(kinds)}")
    if not mapping:
        return {}
    if kind is None:
        raise SeedImportError("a field mapping needs a kind: choose the kind the file holds")
    spec = kinds[kind]
    seen: dict[str, str] = {}
    out: dict[str, str] = {}
    for name, key in mapping.items():
        if name not in spec.field_names:
            fields = ", ".join(spec.field_names)
            raise SeedImportError(
                f"the mapping names {name!r}, which is not a field of {kind}; fields: {fields}"
            )
        if not isinstance(key, str) or not key.strip():
            raise SeedImportError(f"the mapping for {name!r} names no column")
        if key in seen:
            raise SeedImportError(f"the mapping reads {key!r} for both {seen[key]!r} and {name!r}")
        seen[key] = name
        out[name] = key.strip()
    return out


def parse_mapping(text: str | Iterable[str]) -> dict[str, str]:
    """Read a mapping typed by a person: a JSON object, or `field=column` items.

    Items may be separate arguments (the command's repeated --map), lines, or comma-separated;
    a column whose name holds a comma or "=" needs the JSON form.
    """
    items: list[str]
    if isinstance(text, str):
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                value = json.loads(stripped)
            except ValueError as exc:
                raise SeedImportError(f"the mapping is not valid JSON ({exc})") from None
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise SeedImportError('the mapping must be a JSON object of "field": "column"')
            return {str(k): v for k, v in value.items()}
        items = [part for line in stripped.splitlines() for part in line.split(",")]
    else:
        items = list(text)
    out: dict[str, str] = {}
    for item in items:
        if not item.strip():
            continue
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise SeedImportError(f"mapping item {item.strip()!r} is not field=column")
        if name.strip() in out:
            raise SeedImportError(f"the mapping gives {name.strip()!r} twice")
        out[name.strip()] = column.strip()
    return out
