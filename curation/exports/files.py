"""Writing export files while streaming: JSONL or Parquet (one row group per chunk),
checksums as the bytes go out, the zip bundle, and moving finished files into storage."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage

from curation.exports.formats import Row, dumps
from generation.localmodel import sha256_file

ROW_GROUP = 20_000


sha256_of = sha256_file  # one copy of the streamed file hash


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._digest = hashlib.sha256()
        self._buffer: list[bytes] = []

    def write(self, row: Row) -> None:
        self._buffer.append(dumps(row))
        self.rows += 1
        if len(self._buffer) >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            data = b"".join(self._buffer)
            self._digest.update(data)
            self._fh.write(data)
            self._buffer = []

    def close(self) -> str:
        self.flush()
        self._fh.close()
        return self._digest.hexdigest()


def _message_type(tools: bool, mask: bool = False, role: str = "role") -> Any:
    import pyarrow as pa

    text = "value" if role == "from" else "content"
    fields = [pa.field(role, pa.string()), pa.field(text, pa.string())]
    if tools:
        call = pa.struct(
            [
                pa.field("id", pa.string()),
                pa.field("type", pa.string()),
                pa.field(
                    "function",
                    pa.struct([pa.field("name", pa.string()), pa.field("arguments", pa.string())]),
                ),
            ]
        )
        fields += [
            pa.field("name", pa.string()),
            pa.field("tool_call_id", pa.string()),
            pa.field("tool_calls", pa.list_(call)),
        ]
    if mask:  # the loss mask (weights.py): 1 on assistant turns, 0 on the others
        fields.append(pa.field("weight", pa.int8()))
    return pa.list_(pa.struct(fields))


def parquet_schema(
    fmt: str, options: dict[str, Any], tools: bool, *, weighted: bool = False
) -> Any:
    """A fixed schema per format. Messages keep role and content (plus name, tool_call_id and
    tool_calls when the selection has tool use, and the loss mask's `weight` when asked);
    `tools` is a JSON string column, because JSON Schemas differ too much from tool to tool
    to share one Parquet type. `weighted`: SFT rows end with a float `weight` column."""
    import pyarrow as pa

    mask = options.get("loss_mask", "none") != "none"
    msgs, text = _message_type(tools), pa.string()
    cols: list[tuple[str, Any]]
    if fmt == "openai":
        cols = [("messages", _message_type(tools, mask))] + ([("tools", text)] if tools else [])
    elif fmt == "sharegpt":
        cols = [("conversations", _message_type(False, mask, role="from"))]
        cols += [("tools", text)] if tools else []
    elif fmt == "alpaca":
        cols = [("instruction", text), ("input", text), ("output", text), ("system", text)]
    elif fmt == "classification":
        cols = [("text", text), ("label", text)]
    elif fmt == "kto":
        cols = [("prompt", msgs), ("completion", msgs), ("label", pa.bool_())]
    else:
        side = msgs if fmt == "dpo_conversational" else text
        cols = [("prompt", side), ("chosen", side), ("rejected", side)]
        if options.get("include_scores"):
            cols += [("score_chosen", pa.float64()), ("score_rejected", pa.float64())]
    if fmt in ("dpo", "dpo_conversational", "kto") and options.get("include_source", True):
        cols.append(("source", text))
    if weighted and fmt in ("openai", "sharegpt", "alpaca"):
        cols.append(("weight", pa.float64()))
    return pa.schema(cols)


class ParquetWriter:
    def __init__(self, path: Path, schema: Any) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.rows = 0
        self._schema = schema
        self._tools_as_text = "tools" in schema.names
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._buffer: list[Row] = []

    def write(self, row: Row) -> None:
        if self._tools_as_text and "tools" in row and not isinstance(row["tools"], str):
            row = row | {"tools": orjson.dumps(row["tools"]).decode()}
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self._buffer:
            columns = [_column(self._buffer, f.name, f.type) for f in self._schema]
            self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))
            self._buffer = []

    def close(self) -> str:
        self.flush()
        self._writer.close()
        return sha256_of(self.path)


def _column(rows: list[Row], name: str, type_: Any) -> Any:
    """One column of a row group. Lists of flat structs (chat messages: strings, and the loss
    mask's integer) are built from flat arrays and offsets, several times faster than
    pyarrow's per-dict conversion."""
    import pyarrow as pa

    values: list[Any] = [r.get(name) for r in rows]
    item = type_.value_type if pa.types.is_list(type_) else None
    flat = (
        item is not None
        and pa.types.is_struct(item)
        and all(not pa.types.is_nested(item.field(i).type) for i in range(item.num_fields))
        and all(v is not None for v in values)
    )
    if not flat or item is None:
        return pa.array(values, type=type_)
    offsets, n = [0], 0
    for v in values:
        n += len(v)
        offsets.append(n)
    children = [item.field(i) for i in range(item.num_fields)]
    fields = [pa.array([m.get(c.name) for v in values for m in v], c.type) for c in children]
    structs = pa.StructArray.from_arrays(fields, fields=list(item))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), structs, type=type_)


class Bundle:
    """The zip of every file, built in the worker (never in a request). Data files are
    added on a thread while the caller queries for the manifest: zlib and the database
    wait both release the GIL, so the two overlap."""

    def __init__(self, work: Path, top: str) -> None:
        self.work, self.top = work, top
        self.path = work / f"{top}.zip"
        self._zip = zipfile.ZipFile(
            self.path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        )
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future[None]] = []

    def add_later(self, names: list[str]) -> None:
        self._pending.append(self._pool.submit(self._add, names))

    def _add(self, names: list[str]) -> None:
        for name in names:
            # Parquet is compressed already (zstd): deflating it again costs time for nothing.
            kind = zipfile.ZIP_STORED if name.endswith(".parquet") else zipfile.ZIP_DEFLATED
            self._zip.write(self.work / name, f"{self.top}/{name}", compress_type=kind)

    def discard(self) -> None:
        """After a failure elsewhere: stop the thread and close the half-made zip."""
        self._pool.shutdown(cancel_futures=True)
        self._zip.close()

    def finish(self, names: list[str]) -> str:
        """Add the last files, close, and return the zip's sha256."""
        try:
            for future in self._pending:
                future.result()
            self._add(names)
        finally:
            self._pool.shutdown()
            self._zip.close()
        return sha256_of(self.path)


def storage_dir(project_id: int, export_id: int) -> str:
    return f"exports/{project_id}/{export_id}"


def publish(work: Path, names: list[str], target: str) -> dict[str, str]:
    """Move finished files into storage; returns storage names. Local disk: one rename."""
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        final = Path(storage.path(target))
        if final.exists():  # left by an attempt that died after its rename
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        work.replace(final)
        return {name: f"{target}/{name}" for name in names}
    stored = {}
    for name in names:
        with open(work / name, "rb") as fh:
            stored[name] = storage.save(f"{target}/{name}", File(fh, name=name))
    shutil.rmtree(work, ignore_errors=True)
    return stored


def work_dir(project_id: int, export_id: int) -> Path:
    root = Path(FileSystemStorage().path("exports/.work"))
    path = root / f"{project_id}-{export_id}"
    if path.exists():  # a previous attempt's partial files: start again
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
