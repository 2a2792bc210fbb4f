"""Reading datasets in the export formats (untrusted bytes) into sample drafts (unsaved
Samples).

The inverse of formats.py: importing a file we exported and exporting it again gives the
same bytes. Every problem names its line (JSONL), item (JSON array) or row (Parquet).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from curation.exports import sharegpt, trajectories
from curation.exports.formats import Msgs
from curation.exports.weights import KEY, WEIGHTED_FORMATS, strip_mask
from curation.samples.models import Sample
from curation.seeds.parsing import SeedImportError
from curation.seeds.parsing import _drop_nulls as drop_nulls  # Parquet nulls = absent keys

ROLES = ("system", "user", "assistant", "tool")
SHAPES = {
    "messages": "openai",
    "conversations": "sharegpt",
    "instruction": "alpaca",
    "completion": "kto",
    "chosen": "dpo",
    "text": "classification",
    "function": "bfcl",  # a question record; a possible-answer record has ground_truth only
    "ground_truth": "bfcl",
    "steps": "step_labels",  # one agent trajectory with a label per step
}


class ImportProblem(SeedImportError):
    """A record that cannot be imported; the message starts with where it is."""


def read_records(data: bytes, max_rows: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for each record of a JSONL, JSON-array or Parquet file."""
    if data.startswith(b"PAR1"):
        yield from _parquet_records(data, max_rows)
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = data.count(b"\n", 0, exc.start) + 1
        raise ImportProblem(f"line {at}: the file is not UTF-8 text") from None
    if not text.strip():
        raise ImportProblem("the file is empty")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise ImportProblem(f"the file is not a valid JSON array ({exc})") from None
        except RecursionError:
            raise ImportProblem("the file is not a valid JSON array (nested too deeply)") from None
        if not isinstance(items, list):
            raise ImportProblem("expected a JSON array of objects")
        for n, item in enumerate(items, 1):
            yield _object(item, f"item {n}", n, max_rows)
        return
    n = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        n += 1
        where = f"line {number}"
        try:
            value = json.loads(line, parse_constant=_no_constant)
        except ValueError as exc:
            raise ImportProblem(f"{where}: invalid JSON ({exc})") from None
        except RecursionError:
            raise ImportProblem(f"{where}: invalid JSON (nested too deeply)") from None
        yield _object(value, where, n, max_rows)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _object(value: Any, where: str, n: int, max_rows: int) -> tuple[str, dict[str, Any]]:
    if n > max_rows:
        raise ImportProblem(f"the file has more than {max_rows:,} records; that is the limit")
    if not isinstance(value, dict):
        raise ImportProblem(f"{where}: expected a JSON object")
    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        # e.g. Parquet timestamps, binary or decimal columns: not JSON data
        raise ImportProblem(f"{where}: holds values that are not JSON data") from None
    if "\\u0000" in encoded:
        raise ImportProblem(f"{where}: contains a NUL character, which cannot be stored")
    return where, value


def _parquet_records(data: bytes, max_rows: int) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        if parquet.metadata.num_rows > max_rows:
            raise ImportProblem(
                f"the file has {parquet.metadata.num_rows:,} rows; the limit is {max_rows:,}"
            )
        n = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                n += 1
                yield _object(drop_nulls(row), f"row {n}", n, max_rows)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise ImportProblem(f"the file is not a readable Parquet file ({exc})") from None


def detect(record: dict[str, Any], where: str) -> str:
    for key, fmt in SHAPES.items():
        if key in record:
            if fmt == "dpo" and isinstance(record.get("prompt"), list):
                return "dpo_conversational"
            return fmt
    keys = ", ".join(repr(k)[:40] for k in list(record)[:8])
    raise ImportProblem(
        f"{where}: unrecognised record (keys: {keys}); expected messages, conversations, "
        "instruction/output, prompt/chosen/rejected, prompt/completion/label, text/label, "
        "BFCL's id/question/function or prompt/steps/labels"
    )


def _str(record: dict[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    value = record.get(key)
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise ImportProblem(f"{where}: field {key!r} must be a non-empty string")
    return value


def _source(record: dict[str, Any], where: str) -> str | None:
    """An optional pair `source`: text (it names where a pair came from), or absent."""
    value = record.get("source")
    if value is not None and not isinstance(value, str):
        raise ImportProblem(f"{where}: field 'source' must be text")
    return value


def _messages(value: Any, where: str, key: str) -> Msgs:
    if isinstance(value, str):
        raise ImportProblem(f"{where}: field {key!r} must be a list of messages, not text")
    if not isinstance(value, list) or not value:
        raise ImportProblem(f"{where}: field {key!r} must be a non-empty list of messages")
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ImportProblem(f"{where}: {key}[{i}].role must be one of {', '.join(ROLES)}")
        content = m.get("content")
        if not isinstance(content, str) and not (content is None and m.get("tool_calls")):
            raise ImportProblem(f"{where}: {key}[{i}].content must be a string")
    return value


def _tools(r: dict[str, Any], where: str) -> list[dict[str, Any]] | None:
    tools = r.get("tools")
    if isinstance(tools, str):  # Parquet keeps tools as JSON text
        try:
            tools = json.loads(tools)
        except ValueError:
            raise ImportProblem(f"{where}: field 'tools' is not valid JSON") from None
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise ImportProblem(f"{where}: field 'tools' must be a list of objects")
    return tools


def _kind(messages: Msgs, tools: Any) -> str:
    if tools or any(m.get("tool_calls") for m in messages):
        return "tool_trajectory"
    return "conversation" if sum(m["role"] == "assistant" for m in messages) > 1 else "sft"


def _score(record: dict[str, Any], key: str, where: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ImportProblem(f"{where}: field {key!r} must be a number")
    return float(value)


def to_draft(fmt: str, r: dict[str, Any], where: str) -> Sample:
    """One record as an unsaved sample (kind, messages, pair, label, and the extra the
    exporter reads back: Alpaca's split, a DPO pair's source and scores, a KTO label, an SFT
    row's weight). A loss mask's per-message `weight` is dropped: it is an export option."""
    extra: dict[str, Any] = {}
    tools, chosen, rejected, label = None, None, None, ""
    if fmt == "openai":
        messages = strip_mask(_messages(r.get("messages"), where, "messages"))
        tools = _tools(r, where)
        kind = _kind(messages, tools)
    elif fmt == "sharegpt":
        turns = r.get("conversations")
        if not isinstance(turns, list) or not turns:
            raise ImportProblem(f"{where}: field 'conversations' must be a non-empty list")
        try:
            messages = sharegpt.from_turns(turns, where)
            tools = sharegpt.tools_from_text(r.get("tools"))
        except ValueError as e:
            raise ImportProblem(str(e) if str(e).startswith(where) else f"{where}: {e}") from None
        kind = _kind(messages, tools)
    elif fmt == "alpaca":
        instruction, given = _str(r, "instruction", where), r.get("input") or ""
        if not isinstance(given, str):
            raise ImportProblem(f"{where}: field 'input' must be a string")
        user = f"{instruction}\n\n{given}" if given else instruction
        messages = [
            {"role": "user", "content": user},
            {"role": "assistant", "content": _str(r, "output", where, empty=True)},
        ]
        if "system" in r:
            messages.insert(0, {"role": "system", "content": _str(r, "system", where, empty=True)})
        extra = {"instruction": instruction, "input": given}
        kind = "sft"
    elif fmt == "step_labels":
        try:
            fields = trajectories.step_labels_draft(r, where)
        except ValueError as e:
            raise ImportProblem(str(e)) from None
        messages = _messages(fields["messages"], where, "prompt")
        kind, tools, extra = fields["kind"], _tools(fields, where), fields["extra"]
    elif fmt in ("dpo", "dpo_conversational", "trajectory_pairs"):
        if fmt == "dpo":
            messages = [{"role": "user", "content": _str(r, "prompt", where)}]
            chosen = [{"role": "assistant", "content": _str(r, "chosen", where, empty=True)}]
            rejected = [{"role": "assistant", "content": _str(r, "rejected", where, empty=True)}]
        else:
            messages = _messages(r.get("prompt"), where, "prompt")
            chosen = _messages(r.get("chosen"), where, "chosen")
            rejected = _messages(r.get("rejected"), where, "rejected")
            tools = _tools(r, where)  # trajectory pairs: the tools their calls use
        extra = {
            k: v
            for k, v in (
                ("source", _source(r, where)),
                ("chosen_score", _score(r, "score_chosen", where)),
                ("rejected_score", _score(r, "score_rejected", where)),
            )
            if v is not None
        }
        kind = "preference"
    elif fmt == "kto":
        prompt, completion = r.get("prompt"), r.get("completion")
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        if isinstance(completion, str):
            completion = [{"role": "assistant", "content": completion}]
        messages = _messages(prompt, where, "prompt") + _messages(completion, where, "completion")
        if not isinstance(r.get("label"), bool):
            raise ImportProblem(f"{where}: field 'label' must be true or false")
        source = _source(r, where)
        extra = {"kto_label": r["label"]} | ({"source": source} if source is not None else {})
        kind = _kind(messages, None)
    else:
        messages = [{"role": "user", "content": _str(r, "text", where)}]
        label = _str(r, "label", where)
        if len(label) > 200:
            raise ImportProblem(f"{where}: field 'label' is longer than 200 characters")
        kind = "classification"
    if fmt in WEIGHTED_FORMATS and r.get(KEY) is not None:
        extra[KEY] = _score(r, KEY, where)  # a weighted export's column (weights.py)
    return Sample(
        kind=kind, messages=messages, step="import",
        chosen=chosen, rejected=rejected, label=label, tools=tools, extra=extra,
    )  # fmt: skip


def to_seed(draft: Sample) -> dict[str, Any]:
    """A record in a shape the seed parser takes: the conversation, pairs and labels in meta."""
    messages = draft.messages + (draft.chosen or [])
    meta: dict[str, Any] = {
        k: v for k, v in draft.extra.items() if k not in ("instruction", "input")
    }
    if draft.rejected:
        meta["rejected"] = draft.rejected
    if draft.label:
        meta["label"] = draft.label
    if messages[0]["role"] == "system" and "instruction" in draft.extra:
        meta["system"] = messages[0]["content"]  # Alpaca's system prompt, kept with the seed
    if "instruction" in draft.extra and messages[-1]["role"] == "assistant":
        record = {"instruction": draft.extra["instruction"], "input": draft.extra["input"]}
        return record | {"output": messages[-1]["content"], "meta": meta}
    record = {"messages": messages, "meta": meta}
    if draft.tools:
        record["tools"] = draft.tools
    return record
