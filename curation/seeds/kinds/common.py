"""What every kind's parser shares: the error type, the parsed seed, and field look-ups.

Pure Python (no Django), so that the rules are easy to test and the recipe engine can
import the registry cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curation.seeds.kinds.spec import KindSpec

# Deeper than any real seed; stops hostile nesting before it reaches Python's recursion limit.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class ParsedSeed:
    kind: str  # a key of KINDS
    payload: dict[str, Any]  # JSON-safe, normalised per kind; unknown keys live in payload["meta"]
    text: str  # plain text for search and embeddings
    source_index: int  # 1-based line (JSONL, CSV) or item (JSON array) or row (Parquet)


class SeedImportError(ValueError):
    """A file that cannot be imported; the message is written for the person who uploaded it."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        # `line` is the 1-based position the message names: a line, a JSON item or a Parquet row.
        self.line = line
        self.field = field


@dataclass(frozen=True, slots=True)
class Loc:
    unit: str  # "line", "item" or "row"; "" for a file that is one document (OpenAPI)
    number: int

    def error(self, problem: str, field: str | None = None) -> SeedImportError:
        if not self.unit:
            return SeedImportError(problem, field=field)
        return SeedImportError(
            f"{self.unit} {self.number}: {problem}", line=self.number, field=field
        )


@dataclass(slots=True)
class ImportContext:
    """State shared by all records of one file."""

    kind: str | None = None  # chosen by the uploader; None: detect per record
    mapping: Mapping[str, str] = field(default_factory=dict)  # payload field -> uploaded key
    max_rows: int = 200_000
    count: int = 0  # seeds parsed so far
    tool_names: dict[str, str] = field(default_factory=dict)  # name -> where it was first seen

    def too_many(self, count: str) -> SeedImportError:
        return SeedImportError(f"file has {count} seeds; the limit is {self.max_rows:,}")


class Record:
    """One uploaded object seen through a kind's field names and the uploader's mapping."""

    def __init__(
        self,
        data: dict[str, Any],
        loc: Loc,
        spec: KindSpec,
        ctx: ImportContext,
        prefix: str = "",
    ) -> None:
        self.data = data
        self.loc = loc
        self.spec = spec
        self.ctx = ctx
        self.prefix = prefix  # "function." when reading inside a wrapper object
        # A mapping only applies to the top level of the kind it was given for.
        self.mapping = ctx.mapping if ctx.kind == spec.id and not prefix else {}
        self.used: set[str] = set()

    def key(self, name: str) -> str | None:
        """The uploaded key that holds payload field `name`, or None when the record lacks it."""
        if name in self.mapping:
            return self.mapping[name]
        claimed = self.mapping.values()
        names = self.spec.field(name).names if name in self.spec.field_names else (name,)
        for candidate in names:
            if candidate not in claimed and present(self.data, candidate):
                return candidate
        return None

    def get(self, name: str) -> Any:
        key = self.key(name)
        if key is None:
            # A null under one of the field's names is an absent value, not unknown data.
            names = self.spec.field(name).names if name in self.spec.field_names else (name,)
            self.used.update(n for n in names if n in self.data)
            return None
        self.used.add(key)
        return self.data.get(key)

    def has(self, name: str) -> bool:
        key = self.key(name)
        return key is not None and present(self.data, key)

    def label(self, name: str) -> str:
        """How messages name a field: its uploaded key, and the mapping when there is one."""
        if name in self.mapping:
            return f"'{self.prefix}{name}' (mapped from {self.mapping[name]!r})"
        key = self.key(name) or name
        return repr(f"{self.prefix}{key}")

    def where(self, name: str) -> str:
        return f"{self.prefix}{self.key(name) or name}"

    def error(self, problem: str, name: str | None = None) -> SeedImportError:
        return self.loc.error(problem, field=self.where(name) if name else None)

    def missing(self, name: str, expected: str) -> SeedImportError:
        if name in self.mapping:
            return self.error(f"field {self.label(name)} is missing", name)
        aliases = self.spec.field(name).aliases
        also = f" (also accepted: {', '.join(aliases)})" if aliases else ""
        return self.error(f"field {self.label(name)} must be {expected}, got null{also}", name)

    def text(self, name: str, *, required: bool = False) -> str:
        """A string field, kept exactly as uploaded; optional ones default to ""."""
        value = self.get(name)
        if value is None:
            if required:
                raise self.missing(name, "a non-empty string")
            return ""
        if required and (not isinstance(value, str) or not value.strip()):
            got = "an empty string" if isinstance(value, str) else json_type(value)
            raise self.error(
                f"field {self.label(name)} must be a non-empty string, got {got}", name
            )
        if not isinstance(value, str):
            raise self.error(
                f"field {self.label(name)} must be a string, got {json_type(value)}", name
            )
        return value

    def scalar(self, name: str, *, required: bool = False) -> str:
        """A short value that may arrive as a number or boolean (a gold answer, a label)."""
        value = self.get(name)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if value is None and not required:
            return ""
        if value is None:
            raise self.missing(name, "a non-empty string or a number")
        if not isinstance(value, str) or not value.strip():
            got = "an empty string" if isinstance(value, str) else json_type(value)
            raise self.error(
                f"field {self.label(name)} must be a non-empty string or a number, got {got}", name
            )
        return value

    def obj(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(
                f"field {self.label(name)} must be an object, got {json_type(value)}", name
            )
        return value

    def meta(self, *also_used: str) -> dict[str, Any]:
        return meta(self.data, self.used | set(also_used), self.loc)


# --- helpers ----------------------------------------------------------------------------


def present(record: Mapping[str, Any], key: str) -> bool:
    # A null is treated as a missing key, which is how columnar files spell "absent".
    return record.get(key) is not None


def required_str(record: dict[str, Any], key: str, loc: Loc, prefix: str = "") -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        name = f"{prefix}{key}"
        got = "an empty string" if isinstance(value, str) else json_type(value)
        raise loc.error(f"field {name!r} must be a non-empty string, got {got}", field=name)
    return value  # kept exactly as uploaded: no stripping, no escaping


def meta(record: dict[str, Any], consumed: set[str], loc: Loc) -> dict[str, Any]:
    """Keep every key the shape does not use, so that no uploaded data is lost."""
    extras = {k: v for k, v in record.items() if k not in consumed and k != "meta"}
    # Merge an existing "meta" object so that re-importing our own export does not nest it.
    own = record.get("meta")
    if own is None:
        return extras
    if not isinstance(own, dict):
        raise loc.error(f"field 'meta' must be an object, got {json_type(own)}", field="meta")
    clash = sorted(extras.keys() & own.keys())
    if clash:
        name = clash[0]
        raise loc.error(f"field {name!r} is given both at the top level and in 'meta'", field=name)
    return own | extras


def clean(value: Any, loc: Loc, path: str, depth: int) -> Any:
    """Return a JSON-safe copy, or name the first value Postgres could not store."""
    if depth > MAX_DEPTH:
        raise loc.error(f"field {path!r} is nested more than {MAX_DEPTH} levels deep", field=path)
    if isinstance(value, str):
        if "\x00" in value:
            raise loc.error(
                f"field {path!r} contains a NUL character (\\x00), which cannot be stored",
                field=path,
            )
        return value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):  # JSON and Postgres jsonb have no NaN or Infinity
            raise loc.error(f"field {path!r} is {value}, which cannot be stored", field=path)
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key:
                raise loc.error(f"field {path!r} has an unusable key {short(key)}", field=path)
            out[key] = clean(item, loc, f"{path}.{key}" if path else key, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [clean(item, loc, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    # Parquet and YAML can hold typed values that JSON cannot; keep them as exact strings.
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise loc.error(
        f"field {path!r} holds a {type(value).__name__} value, which cannot be stored as JSON",
        field=path,
    )


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def short(value: Any, limit: int = 40) -> str:
    # Error messages echo uploaded values; keep them short so one cell cannot flood the page.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
