"""Turn an uploaded seed file (untrusted bytes) into seeds, all or nothing.

Pure Python on purpose (no Django): the upload view, the API and a management command
all call `parse_seed_file`, and the rules are easy to test without a database.
The first bad record stops the import, and its message names the line (or item, or row)
and the field, so that a person can fix the file and upload it again.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

MB = 1024 * 1024

# The parser emits the first three; the others are reserved for recipes that upload
# documents, API specs, personas, labelled examples or principles as seeds.
SEED_KINDS = (
    "instruction", "conversation", "text",
    "document", "api_spec", "persona", "labelled", "principle",
)  # fmt: skip
FORMATS = ("jsonl", "json", "csv", "parquet")

_SHAREGPT_ROLES = {
    "human": "user", "gpt": "assistant", "system": "system",
    "user": "user", "assistant": "assistant", "tool": "tool",
}  # fmt: skip
_OPENAI_ROLES = {role: role for role in ("system", "user", "assistant", "tool")}
_ACCEPTED_SHAPES = (
    "instruction + optional input + output (Alpaca, Self-Instruct)",
    "instruction + instances (Self-Instruct seed tasks)",
    "conversations of {from, value} (ShareGPT)",
    "messages of {role, content} (OpenAI chat)",
    "text",
)
_CSV_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_BOM = b"\xef\xbb\xbf"
_NON_SPACE = re.compile(r"\S")
# Deeper than any real seed; stops hostile nesting before it reaches Python's recursion limit.
_MAX_DEPTH = 64
# Parquet compresses well, so its decoded size may exceed the upload limit, but not by
# more than this; a larger claim in the footer is treated as a decompression bomb.
_PARQUET_EXPANSION = 10


@dataclass(frozen=True, slots=True)
class ParsedSeed:
    kind: str  # one of SEED_KINDS
    payload: dict[str, Any]  # JSON-safe, normalized per kind; unknown keys live in payload["meta"]
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
class _Loc:
    unit: str  # "line", "item" or "row"
    number: int

    def error(self, problem: str, field: str | None = None) -> SeedImportError:
        return SeedImportError(
            f"{self.unit} {self.number}: {problem}", line=self.number, field=field
        )


def detect_format(data: bytes) -> str:
    """Name the format from the content alone: filenames and content types are user input too."""
    if data.startswith(b"PAR1"):
        return "parquet"
    return _text_format(_decode(data))


def parse_seed_file(
    data: bytes, *, max_bytes: int = 50 * MB, max_rows: int = 200_000
) -> list[ParsedSeed]:
    """Parse every record or raise SeedImportError for the first one that is wrong."""
    if len(data) > max_bytes:
        actual, limit = _size(len(data)), _size(max_bytes)
        if actual == limit:  # "50 MB; the limit is 50 MB" would read as a bug
            actual = f"{len(data):,} bytes"
        raise SeedImportError(f"file is {actual}; the limit is {limit}")
    if data.startswith(b"PAR1"):
        seeds = _parse_parquet(data, max_bytes, max_rows)
    else:
        text = _decode(data)
        parse = {"jsonl": _parse_jsonl, "json": _parse_json_array, "csv": _parse_csv}
        seeds = parse[_text_format(text)](text, max_rows)
    if not seeds:
        raise SeedImportError("file contains no seeds")
    return seeds


# --- decoding and formats -------------------------------------------------------------


def _decode(data: bytes) -> str:
    if data.startswith(_BOM):  # Excel and Notepad add one; it is not content
        data = data[len(_BOM) :]
    if not data.strip():
        raise SeedImportError("file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SeedImportError("file is UTF-16 text; save it as UTF-8 and upload it again")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SeedImportError(
            f"file is not UTF-8 text: line {line} has the byte 0x{data[exc.start]:02x}; "
            "save it as UTF-8 and upload it again",
            line=line,
        ) from None


def _text_format(text: str) -> str:
    match = _NON_SPACE.search(text)
    first = match.group() if match else ""
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl"
    return "csv"


def _too_many(count: str, max_rows: int) -> SeedImportError:
    return SeedImportError(f"file has {count} seeds; the limit is {max_rows:,}")


def _load_json(text: str, first_line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        loc = _Loc("line", first_line + exc.lineno - 1)
        raise loc.error(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise _Loc("line", first_line).error("invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise _Loc("line", first_line).error(f"invalid JSON ({exc})") from None


def _parse_jsonl(text: str, max_rows: int) -> list[ParsedSeed]:
    seeds: list[ParsedSeed] = []
    # split("\n") rather than splitlines(): JSON strings may hold U+2028 and friends, and
    # line numbers must match what an editor shows.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        loc = _Loc("line", number)
        try:
            value = _load_json(line, number)
        except SeedImportError:
            if not seeds:
                _reject_single_object(text)
            raise
        if not isinstance(value, dict):
            raise loc.error(f"expected a JSON object, got {_json_type(value)}")
        if len(seeds) >= max_rows:
            raise _too_many(f"more than {max_rows:,}", max_rows)
        if _may_be_unstorable(line):
            value = _clean(value, loc, "", 0)
        seeds.append(_map_record(value, loc))
    return seeds


def _may_be_unstorable(raw: str) -> bool:
    # Walking every value is most of the parse time, so only raw JSON that could hold a NUL,
    # NaN, Infinity or deep nesting is walked. The test is conservative: a match inside a
    # string only costs the walk. Fewer brackets than _MAX_DEPTH cannot nest deeper.
    return (
        "\\u0000" in raw
        or "NaN" in raw
        or "Infinity" in raw
        or raw.count("[") + raw.count("{") > _MAX_DEPTH
    )


def _reject_single_object(text: str) -> None:
    # A pretty-printed object starts with "{" like JSON Lines does; say what it is instead
    # of reporting a syntax error on its first line.
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        return
    if isinstance(whole, dict):
        raise SeedImportError(
            "file is a single JSON object; upload JSON Lines (one object per line) "
            "or a JSON array of objects"
        )


def _parse_json_array(text: str, max_rows: int) -> list[ParsedSeed]:
    items = _load_json(text, 1)
    if not isinstance(items, list):
        raise SeedImportError(f"expected a JSON array of objects, got {_json_type(items)}")
    if len(items) > max_rows:
        raise _too_many(f"{len(items):,}", max_rows)
    seeds = []
    for number, item in enumerate(items, start=1):
        loc = _Loc("item", number)
        if not isinstance(item, dict):
            raise loc.error(f"expected a JSON object, got {_json_type(item)}")
        seeds.append(_map_record(_clean(item, loc, "", 0), loc))
    return seeds


def _parse_csv(text: str, max_rows: int) -> list[ParsedSeed]:
    # newline="" lets the csv module keep line breaks inside quoted cells.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    seeds: list[ParsedSeed] = []
    start = 1  # physical line on which the next record begins
    has_nul = "\x00" in text  # cells are plain strings, so a NUL is all there is to check
    try:
        for row in reader:
            loc, start = _Loc("line", start), reader.line_num + 1
            if not any(row):  # blank lines and Excel's trailing ",,," rows
                continue
            if header is None:
                header = _csv_header(row, loc)
                continue
            if len(row) != len(header):
                raise loc.error(f"row has {len(row)} cells but the header has {len(header)}")
            if len(seeds) >= max_rows:
                raise _too_many(f"more than {max_rows:,}", max_rows)
            record = _csv_record(dict(zip(header, row, strict=True)), loc)
            seeds.append(_map_record(_clean(record, loc, "", 0) if has_nul else record, loc))
    except csv.Error as exc:
        raise _Loc("line", reader.line_num).error(f"invalid CSV ({exc})") from None
    return seeds


def _csv_header(row: list[str], loc: _Loc) -> list[str]:
    names = [cell.strip() for cell in row]
    for column, name in enumerate(names, start=1):
        if not name:
            raise loc.error(f"header column {column} has no name")
        if names.index(name) != column - 1:
            raise loc.error(f"header names column {_short(name)} twice", field=name)
    if "instruction" not in names and "text" not in names:
        raise loc.error(
            f"CSV header needs an 'instruction' column (with 'output' and optional 'input') "
            f"or a 'text' column; found {', '.join(_short(n) for n in names[:10])}. "
            "Conversations need JSONL, JSON or Parquet"
        )
    return names


def _csv_record(record: dict[str, Any], loc: _Loc) -> dict[str, Any]:
    # Cells are strings; the one typed field a flat CSV can carry is is_classification.
    if "is_classification" in record:
        cell = record["is_classification"].strip().lower()
        if cell == "":
            del record["is_classification"]
        elif cell in _CSV_BOOLEANS:
            record["is_classification"] = _CSV_BOOLEANS[cell]
        else:
            raise loc.error(
                "field 'is_classification' must be true, false, 1, 0 or empty",
                field="is_classification",
            )
    return record


def _parse_parquet(data: bytes, max_bytes: int, max_rows: int) -> list[ParsedSeed]:
    # Imported here: pyarrow takes a noticeable time to load and most uploads are text.
    import pyarrow as pa
    import pyarrow.parquet as pq

    seeds: list[ParsedSeed] = []
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        meta = parquet.metadata
        if meta.num_rows > max_rows:
            raise _too_many(f"{meta.num_rows:,}", max_rows)
        expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if expanded > max_bytes * _PARQUET_EXPANSION:
            raise SeedImportError(
                f"Parquet data expands to {_size(expanded)}; "
                f"the limit is {_size(max_bytes * _PARQUET_EXPANSION)}"
            )
        number = 0
        for batch in parquet.iter_batches(batch_size=4096):  # bounded memory per step
            for row in batch.to_pylist():
                number += 1
                loc = _Loc("row", number)
                seeds.append(_map_record(_clean(_drop_nulls(row), loc, "", 0), loc))
    # pyarrow decodes string columns while converting rows, so bad text surfaces here too.
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise SeedImportError(f"file is not a readable Parquet file ({exc})") from None
    return seeds


def _drop_nulls(value: Any) -> Any:
    # A Parquet schema is shared by every row, so a column or struct field that one row
    # lacks is null there; treat it as absent, as it would be in the JSON the row came from.
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


# --- records to seeds -------------------------------------------------------------------


def _map_record(record: dict[str, Any], loc: _Loc) -> ParsedSeed:
    # `record` has been through _clean (or is known not to need it).
    if _present(record, "conversations"):
        return _conversation(record, loc, "conversations", ("from", "value"), _SHAREGPT_ROLES)
    if _present(record, "messages"):
        return _conversation(record, loc, "messages", ("role", "content"), _OPENAI_ROLES)
    if _present(record, "instruction"):
        return _instruction(record, loc)
    if _present(record, "text"):
        text = _required_str(record, "text", loc)
        return ParsedSeed(
            "text", {"text": text, "meta": _meta(record, {"text"}, loc)}, text, loc.number
        )
    keys = ", ".join(_short(k) for k in list(record)[:10]) or "none"
    raise loc.error(
        f"unrecognised seed shape (keys: {keys}); accepted shapes: {'; '.join(_ACCEPTED_SHAPES)}"
    )


def _instruction(record: dict[str, Any], loc: _Loc) -> ParsedSeed:
    instruction = _required_str(record, "instruction", loc)
    is_classification = record.get("is_classification")
    if is_classification is None:
        is_classification = False
    elif not isinstance(is_classification, bool):
        raise loc.error(
            f"field 'is_classification' must be true or false, got {_json_type(is_classification)}",
            field="is_classification",
        )
    if _present(record, "instances"):
        for stray in ("input", "output"):
            if _present(record, stray):
                raise loc.error(f"field {stray!r} cannot sit beside 'instances'", field=stray)
        raw = record["instances"]
        if not isinstance(raw, list) or not raw:
            raise loc.error("field 'instances' must be a non-empty list", field="instances")
        instances = [_instance(item, f"instances[{i}]", loc) for i, item in enumerate(raw)]
        consumed = {"instruction", "instances", "is_classification"}
    else:
        instances = [_instance(record, "", loc)]
        consumed = {"instruction", "input", "output", "is_classification"}
    payload = {
        "instruction": instruction,
        "instances": instances,
        "is_classification": is_classification,
        "meta": _meta(record, consumed, loc),
    }
    parts = [instruction] + [p for i in instances for p in (i["input"], i["output"])]
    return ParsedSeed("instruction", payload, "\n".join(p for p in parts if p), loc.number)


def _instance(item: Any, path: str, loc: _Loc) -> dict[str, Any]:
    # Serves both the nested Self-Instruct instance (path "instances[0]") and the flat
    # record itself (path ""), so both shapes obey the same rules.
    if not isinstance(item, dict):
        raise loc.error(f"field {path!r} must be an object, got {_json_type(item)}", field=path)
    prefix = f"{path}." if path else ""
    value = item.get("input")
    if value is not None and not isinstance(value, str):
        name = f"{prefix}input"
        raise loc.error(f"field {name!r} must be a string, got {_json_type(value)}", field=name)
    output = _required_str(item, "output", loc, prefix)
    instance: dict[str, Any] = {"input": value or "", "output": output}
    if path:  # a nested instance keeps its own extra keys; the flat record's go to payload meta
        extras = {k: v for k, v in item.items() if k not in ("input", "output")}
        if extras:
            instance["meta"] = extras
    return instance


def _conversation(
    record: dict[str, Any],
    loc: _Loc,
    key: str,
    names: tuple[str, str],
    roles: dict[str, str],
) -> ParsedSeed:
    role_key, content_key = names
    raw = record[key]
    if not isinstance(raw, list) or not raw:
        raise loc.error(f"field {key!r} must be a non-empty list of messages", field=key)
    messages = []
    for index, item in enumerate(raw):
        path = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise loc.error(f"field {path!r} must be an object, got {_json_type(item)}", field=path)
        role = item.get(role_key)
        if role is None:
            field = f"{path}.{role_key}"
            raise loc.error(
                f"field {field!r} is missing; expected one of {', '.join(roles)}", field=field
            )
        if not isinstance(role, str) or role not in roles:
            raise loc.error(
                f"{path}.{role_key} {_short(role)} is not one of {', '.join(roles)}",
                field=f"{path}.{role_key}",
            )
        content = item.get(content_key)
        # OpenAI's format leaves content null on an assistant turn that only calls tools.
        calls_tools = roles[role] == "assistant" and bool(item.get("tool_calls"))
        if not isinstance(content, str) and not (content is None and calls_tools):
            field = f"{path}.{content_key}"
            raise loc.error(
                f"field {field!r} must be a string, got {_json_type(content)}", field=field
            )
        extras = {k: v for k, v in item.items() if k not in names}
        messages.append({"role": roles[role], "content": content} | extras)
    payload: dict[str, Any] = {"messages": messages}
    consumed = {key}
    if key == "messages" and "tools" in record:
        tools = record["tools"]
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise loc.error("field 'tools' must be a list of objects", field="tools")
        payload["tools"] = tools
        consumed.add("tools")
    payload["meta"] = _meta(record, consumed, loc)
    text = "\n".join(m["content"] for m in messages if m["content"])
    return ParsedSeed("conversation", payload, text, loc.number)


# --- helpers ----------------------------------------------------------------------------


def _present(record: dict[str, Any], key: str) -> bool:
    # A null is treated as a missing key, which is how columnar files spell "absent".
    return record.get(key) is not None


def _required_str(record: dict[str, Any], key: str, loc: _Loc, prefix: str = "") -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        name = f"{prefix}{key}"
        got = "an empty string" if isinstance(value, str) else _json_type(value)
        raise loc.error(f"field {name!r} must be a non-empty string, got {got}", field=name)
    return value  # kept exactly as uploaded: no stripping, no escaping


def _meta(record: dict[str, Any], consumed: set[str], loc: _Loc) -> dict[str, Any]:
    """Keep every key the shape does not use, so that no uploaded data is lost."""
    extras = {k: v for k, v in record.items() if k not in consumed and k != "meta"}
    # Merge an existing "meta" object so that re-importing our own export does not nest it.
    own = record.get("meta")
    if own is None:
        return extras
    if not isinstance(own, dict):
        raise loc.error(f"field 'meta' must be an object, got {_json_type(own)}", field="meta")
    clash = sorted(extras.keys() & own.keys())
    if clash:
        field = clash[0]
        raise loc.error(
            f"field {field!r} is given both at the top level and in 'meta'", field=field
        )
    return own | extras


def _clean(value: Any, loc: _Loc, path: str, depth: int) -> Any:
    """Return a JSON-safe copy, or name the first value Postgres could not store."""
    if depth > _MAX_DEPTH:
        raise loc.error(f"field {path!r} is nested more than {_MAX_DEPTH} levels deep", field=path)
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
                raise loc.error(f"field {path!r} has an unusable key {_short(key)}", field=path)
            out[key] = _clean(item, loc, f"{path}.{key}" if path else key, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_clean(item, loc, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    # Parquet can hold typed values that JSON cannot; keep them as exact strings.
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise loc.error(
        f"field {path!r} holds a {type(value).__name__} value, which cannot be stored as JSON",
        field=path,
    )


def _json_type(value: Any) -> str:
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


def _short(value: Any, limit: int = 40) -> str:
    # Error messages echo uploaded values; keep them short so one cell cannot flood the page.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _size(n: int) -> str:
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n:,} bytes"
