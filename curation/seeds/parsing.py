"""Turn an uploaded seed file (untrusted bytes) into seeds, all or nothing.

Pure Python on purpose (no Django): the upload view, the API and a management command
all call `parse_seed_file`, and the rules are easy to test without a database.
This module reads formats (JSONL, JSON, CSV, Parquet, plain text, YAML OpenAPI); the
kinds in `curation.seeds.kinds` turn each record into a normalised payload.
The first bad record stops the import, and its message names the line (or item, or row)
and the field, so that a person can fix the file and upload it again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from typing import Any

from curation.seeds.kinds import KINDS, check_mapping
from curation.seeds.kinds.common import (
    MAX_DEPTH,
    ImportContext,
    Loc,
    ParsedSeed,
    SeedImportError,
    clean,
    json_type,
    short,
)
from curation.seeds.kinds.detect import detect, map_record, map_value

__all__ = ["FORMATS", "MB", "SEED_KINDS", "ParsedSeed", "SeedImportError", "detect_format"]

MB = 1024 * 1024
SEED_KINDS = tuple(KINDS)
FORMATS = ("jsonl", "json", "csv", "parquet", "text", "yaml")

_CSV_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_BOM = b"\xef\xbb\xbf"
_NON_SPACE = re.compile(r"\S")
_TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown")
_YAML_OPENAPI = re.compile(r"^(openapi|swagger)\s*:", re.MULTILINE)
_HEADING = re.compile(r"\A\s*#\s+(.+?)\s*#*\s*$", re.MULTILINE)
# Plain text kinds: what a .txt or .md file can hold.
_PLAIN_KINDS = ("document", "word_list", "text")
# Parquet compresses well, so its decoded size may exceed the upload limit, but not by
# more than this; a larger claim in the footer is treated as a decompression bomb.
_PARQUET_EXPANSION = 10


def detect_format(data: bytes, filename: str = "", kind: str | None = None) -> str:
    """Name the format from the content; a .txt or .md name only marks plain text."""
    if data.startswith(b"PAR1"):
        return "parquet"
    return _text_format(_decode(data), filename, kind)


def parse_seed_file(
    data: bytes,
    *,
    max_bytes: int = 50 * MB,
    max_rows: int = 200_000,
    kind: str | None = None,
    mapping: Mapping[str, str] | None = None,
    filename: str = "",
) -> list[ParsedSeed]:
    """Parse every record or raise SeedImportError for the first one that is wrong.

    `kind` skips detection and reads every record as that kind; `mapping` names, per payload
    field, the uploaded key (column) that holds it.
    """
    if len(data) > max_bytes:
        actual, limit = _size(len(data)), _size(max_bytes)
        if actual == limit:  # "50 MB; the limit is 50 MB" would read as a bug
            actual = f"{len(data):,} bytes"
        raise SeedImportError(f"file is {actual}; the limit is {limit}")
    ctx = ImportContext(kind=kind, mapping=check_mapping(kind, mapping or {}), max_rows=max_rows)
    if data.startswith(b"PAR1"):
        seeds = _parse_parquet(data, max_bytes, ctx)
    else:
        text = _decode(data)
        fmt = _text_format(text, filename, kind)
        if fmt == "text":
            seeds = _parse_plain(text, filename, ctx)
        elif fmt == "yaml":
            seeds = _parse_yaml(text, ctx)
        else:
            parse = {"jsonl": _parse_jsonl, "json": _parse_json_array, "csv": _parse_csv}
            seeds = parse[fmt](text, ctx)
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


def _text_format(text: str, filename: str, kind: str | None) -> str:
    match = _NON_SPACE.search(text)
    first = match.group() if match else ""
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl"
    if filename.lower().endswith(_TEXT_SUFFIXES):
        return "text"
    if _YAML_OPENAPI.search(text[:4096]) and kind in (None, "tool_spec"):
        return "yaml"
    if kind in _PLAIN_KINDS and not filename.lower().endswith((".csv", ".tsv")):
        # A file of words or prose without a header naming the kind's field is plain text.
        header = {cell.strip() for cell in text.lstrip().split("\n", 1)[0].split(",")}
        if not header & set(KINDS[kind].field("text" if kind != "word_list" else "word").names):
            return "text"
    return "csv"


def _json(text: str, first_line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        loc = Loc("line", first_line + exc.lineno - 1)
        raise loc.error(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise Loc("line", first_line).error("invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise Loc("line", first_line).error(f"invalid JSON ({exc})") from None


def _add(seeds: list[ParsedSeed], more: list[ParsedSeed], ctx: ImportContext) -> None:
    seeds.extend(more)
    ctx.count = len(seeds)
    if len(seeds) > ctx.max_rows:
        raise ctx.too_many(f"more than {ctx.max_rows:,}")


def _parse_jsonl(text: str, ctx: ImportContext) -> list[ParsedSeed]:
    seeds: list[ParsedSeed] = []
    # split("\n") rather than splitlines(): JSON strings may hold U+2028 and friends, and
    # line numbers must match what an editor shows.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        loc = Loc("line", number)
        try:
            value = _json(line, number)
        except SeedImportError:
            if not seeds:
                whole = _single_object(text)
                if whole is not None:
                    return _parse_document(whole, ctx)
            raise
        if len(seeds) >= ctx.max_rows:
            raise ctx.too_many(f"more than {ctx.max_rows:,}")
        if _may_be_unstorable(line):
            value = clean(value, loc, "", 0)
        _add(seeds, map_value(value, loc, ctx), ctx)
    return seeds


def _may_be_unstorable(raw: str) -> bool:
    # Walking every value is most of the parse time, so only raw JSON that could hold a NUL,
    # NaN, Infinity or deep nesting is walked. The test is conservative: a match inside a
    # string only costs the walk. Fewer brackets than MAX_DEPTH cannot nest deeper.
    return (
        "\\u0000" in raw
        or "NaN" in raw
        or "Infinity" in raw
        or raw.count("[") + raw.count("{") > MAX_DEPTH
    )


def _single_object(text: str) -> dict[str, Any] | None:
    # A pretty-printed object starts with "{" like JSON Lines does.
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return whole if isinstance(whole, dict) else None


def _parse_document(whole: dict[str, Any], ctx: ImportContext) -> list[ParsedSeed]:
    """A file that is one object: an OpenAPI document or one tool; else say what it is."""
    if ctx.kind is None and detect(whole) != "tool_spec":
        raise SeedImportError(
            "file is a single JSON object; upload JSON Lines (one object per line) "
            "or a JSON array of objects"
        )
    # Not cleaned as a whole: what becomes a payload is cleaned, within the kind's limits.
    return map_record(whole, Loc("", 0), ctx)


def _parse_yaml(text: str, ctx: ImportContext) -> list[ParsedSeed]:
    try:
        import yaml
    except ImportError:  # PyYAML is optional; JSON needs nothing
        raise SeedImportError(
            "YAML needs the PyYAML package, which is not installed here; "
            "upload the OpenAPI document as JSON"
        ) from None
    try:
        whole = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        where = f"line {line}: " if line else ""
        raise SeedImportError(f"{where}invalid YAML ({exc.problem})", line=line) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise SeedImportError(f"invalid YAML ({type(exc).__name__})") from None
    if not isinstance(whole, dict):
        raise SeedImportError(f"expected a YAML OpenAPI document, got {json_type(whole)}")
    return _parse_document(whole, ctx)


def _parse_json_array(text: str, ctx: ImportContext) -> list[ParsedSeed]:
    items = _json(text, 1)
    if not isinstance(items, list):
        raise SeedImportError(f"expected a JSON array of objects, got {json_type(items)}")
    if len(items) > ctx.max_rows:
        raise ctx.too_many(f"{len(items):,}")
    seeds: list[ParsedSeed] = []
    for number, item in enumerate(items, start=1):
        loc = Loc("item", number)
        _add(seeds, map_value(clean(item, loc, "", 0), loc, ctx), ctx)
    return seeds


def _parse_plain(text: str, filename: str, ctx: ImportContext) -> list[ParsedSeed]:
    """A .txt or .md file: one document, or a word list (one word or phrase per line)."""
    if ctx.mapping:
        raise SeedImportError("a field mapping applies to JSON, CSV and Parquet records only")
    kind = ctx.kind or ("word_list" if _is_word_list(text, filename) else "document")
    if kind not in _PLAIN_KINDS:
        raise SeedImportError(
            f"a plain text file imports as a document or a word list; kind {kind!r} "
            "needs JSON Lines, JSON, CSV or Parquet"
        )
    if "\x00" in text:
        at = text.count("\n", 0, text.index("\x00")) + 1
        raise Loc("line", at).error("the text contains a NUL character (\\x00)")
    if kind == "word_list":
        seeds: list[ParsedSeed] = []
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                if len(seeds) >= ctx.max_rows:
                    raise ctx.too_many(f"more than {ctx.max_rows:,}")
                _add(seeds, map_record({"word": line}, Loc("line", number), ctx), ctx)
        return seeds
    record: dict[str, Any] = {"text": text}
    if kind == "document":
        heading = _HEADING.match(text) if filename.lower().endswith((".md", ".markdown")) else None
        record |= {"title": heading.group(1) if heading else "", "source": filename}
    return map_record(record, Loc("line", 1), ctx)


def _is_word_list(text: str, filename: str) -> bool:
    # Short lines with no sentence punctuation: words or phrases, not prose or markdown.
    if filename.lower().endswith((".md", ".markdown")):
        return False
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return len(lines) >= 2 and all(
        len(line) <= 50 and len(line.split()) <= 3 and line[-1] not in ".!?:;," for line in lines
    )


def _parse_csv(text: str, ctx: ImportContext) -> list[ParsedSeed]:
    # newline="" lets the csv module keep line breaks inside quoted cells.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    seeds: list[ParsedSeed] = []
    start = 1  # physical line on which the next record begins
    has_nul = "\x00" in text  # cells are plain strings, so a NUL is all there is to check
    try:
        for row in reader:
            loc, start = Loc("line", start), reader.line_num + 1
            if not any(row):  # blank lines and Excel's trailing ",,," rows
                continue
            if header is None:
                header = _csv_header(row, loc, ctx)
                continue
            if len(row) != len(header):
                raise loc.error(f"row has {len(row)} cells but the header has {len(header)}")
            if len(seeds) >= ctx.max_rows:
                raise ctx.too_many(f"more than {ctx.max_rows:,}")
            record = _csv_record(dict(zip(header, row, strict=True)), loc, ctx)
            value = clean(record, loc, "", 0) if has_nul else record
            _add(seeds, map_record(value, loc, ctx), ctx)
    except csv.Error as exc:
        raise Loc("line", reader.line_num).error(f"invalid CSV ({exc})") from None
    return seeds


def _csv_header(row: list[str], loc: Loc, ctx: ImportContext) -> list[str]:
    names = [cell.strip() for cell in row]
    for column, name in enumerate(names, start=1):
        if not name:
            raise loc.error(f"header column {column} has no name")
        if names.index(name) != column - 1:
            raise loc.error(f"header names column {short(name)} twice", field=name)
    found = ", ".join(short(n) for n in names[:10])
    if ctx.kind in ("conversation", "tool_spec"):
        raise loc.error(f"{ctx.kind} seeds need JSON Lines, JSON or Parquet, not CSV")
    if ctx.kind is None:
        if detect(dict.fromkeys(names, "")) in (None, "conversation", "tool_spec"):
            raise loc.error(
                "CSV header names no known fields: it needs an 'instruction' column (with "
                "'output' and optional 'input'), 'question' + 'answer', 'text' (+ 'label' or "
                f"'title'), 'persona', 'principle' or 'word'; found {found}. Or choose the kind "
                "and map its fields. Conversations and tool specs need JSONL, JSON or Parquet"
            )
        return names
    spec = KINDS[ctx.kind]
    for field in spec.fields:
        if not field.required or (ctx.kind == "instruction" and field.name == "instances"):
            continue
        if field.name in ctx.mapping:
            if ctx.mapping[field.name] not in names:
                raise loc.error(
                    f"CSV header has no column {ctx.mapping[field.name]!r} "
                    f"(mapped to {field.name!r}); found {found}",
                    field=ctx.mapping[field.name],
                )
        elif not set(field.names) & set(names):
            raise loc.error(
                f"CSV header has no column for field {field.name!r} of {ctx.kind}; found "
                f"{found}. Map it to one of the columns",
                field=field.name,
            )
    return names


def _csv_record(record: dict[str, Any], loc: Loc, ctx: ImportContext) -> dict[str, Any]:
    # Cells are strings; the one typed field a flat CSV can carry is is_classification.
    column = ctx.mapping.get("is_classification", "is_classification")
    if column in record and ctx.kind in (None, "instruction"):
        cell = record[column].strip().lower()
        if cell == "":
            del record[column]
        elif cell in _CSV_BOOLEANS:
            record[column] = _CSV_BOOLEANS[cell]
        else:
            raise loc.error(f"field {column!r} must be true, false, 1, 0 or empty", field=column)
    return record


def _parse_parquet(data: bytes, max_bytes: int, ctx: ImportContext) -> list[ParsedSeed]:
    # Imported here: pyarrow takes a noticeable time to load and most uploads are text.
    import pyarrow as pa
    import pyarrow.parquet as pq

    seeds: list[ParsedSeed] = []
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        meta = parquet.metadata
        if meta.num_rows > ctx.max_rows:
            raise ctx.too_many(f"{meta.num_rows:,}")
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
                loc = Loc("row", number)
                _add(seeds, map_record(clean(_drop_nulls(row), loc, "", 0), loc, ctx), ctx)
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


def _size(n: int) -> str:
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n:,} bytes"
