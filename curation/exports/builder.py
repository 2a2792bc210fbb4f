"""Building one version's files: stream rows to the writers, then ids, manifest, card, zip.

Memory stays flat: rows go from a server-side cursor through a writer buffer of one row
group to disk. The sample ids (8 bytes each in an array) are the only thing that grows.
"""

from __future__ import annotations

import json
import logging
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import BooleanField, Count, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.text import slugify

from curation.exports import card, files, streams, system_prompts, trajectories, weights
from curation.exports.filters import base_queryset, parse_filters
from curation.exports.formats import split_key, split_of
from curation.exports.models import Export
from curation.exports.pairs import __doc__ as PAIR_RULES
from curation.review.models import ReviewQueue

log = logging.getLogger(__name__)
PROGRESS_EVERY = 5000
LINEAGE_LIMIT = 200

Progress = Callable[[int], bool]  # rows so far -> keep going?


class Abandoned(Exception):
    """The export was taken over or cancelled while we built it; stop quietly."""


@dataclass
class Built:
    rows: int
    samples: int
    manifest: dict[str, Any]
    files: list[dict[str, Any]]
    sha256: str
    seconds: dict[str, float]  # wall time per phase, for the log and the bench


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def _has_tool_use(qs: Any) -> bool:
    """Whether any selected sample calls tools (Parquet's message type depends on it)."""
    calls = " OR ".join(
        f"jsonb_path_exists(COALESCE({streams.S}.{col}, '[]'), '$[*].tool_calls')"
        for col in ("messages", "chosen", "rejected")
    )
    # Only fixed column names go into the SQL; no user input.
    flagged = qs.annotate(
        calls=RawSQL(  # noqa: S611
            f"({calls})", [], output_field=BooleanField()
        )
    )
    return bool(flagged.filter(Q(tools__isnull=False) | Q(calls=True)).exists())


def build(export: Export, progress: Progress) -> Built:
    project, fmt, opts = export.project, export.format, export.options
    f = parse_filters(export.filters)
    work = files.work_dir(project.pk, export.pk)
    ext = "parquet" if export.parquet else "jsonl"
    splits = ["train", "validation"] if export.split else ["train"]
    validation, seed = float(export.split.get("validation", 0)), int(export.split.get("seed", 0))
    schema = None
    # One scan finds how many samples carry a weight: the column and the manifest need it.
    carried = (
        weights.weighted_samples(base_queryset(project, f))
        if fmt in weights.WEIGHTED_FORMATS
        else 0
    )
    weighted = weights.wanted(fmt, opts) and carried > 0
    if export.parquet:
        # Pairs and KTO rows mix samples in ways a query cannot cheaply foresee, so their
        # messages always have the tool-call fields (null when unused), as datasets' JSON
        # loader would give them anyway.
        tools = fmt not in ("openai", "sharegpt") or _has_tool_use(base_queryset(project, f))
        schema = files.parquet_schema(fmt, opts, tools, weighted=weighted)
    writers: dict[str, Any] = {
        s: files.ParquetWriter(work / f"{s}.{ext}", schema)
        if export.parquet
        else files.JsonlWriter(work / f"{s}.{ext}")
        for s in splits
    }
    clock = _Clock()
    ids = array("q")
    by_source: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    rows = seen = 0

    def beat() -> None:
        # The heartbeat: a build that stops beating for STALE_AFTER may be taken over.
        if not progress(rows):
            raise Abandoned(export.pk)

    keep_system = system_prompts.mode_of(opts) == "stored"  # in the split key (formats.py)
    for item in streams.stream(project, f, fmt, opts, weighted=weighted):
        seen += 1
        if seen % PROGRESS_EVERY == 0:
            beat()  # counted over skipped items too, so a long run of them still beats
        if isinstance(item, str):
            skipped[item] += 1
            continue
        key = split_key(item.row, system=keep_system)
        name = split_of(key, seed, validation) if export.split else "train"
        writers[name].write(item.row)
        ids.extend(item.sample_ids)
        by_source[item.source] += 1
        rows += 1
    clock.lap("rows")
    beat()
    entries = []
    for writer in writers.values():
        digest = writer.close()
        entries.append(_entry(work, writer.path.name, digest, writer.rows))
    samples = _write_ids(work / "sample_ids.txt", ids)
    entries.append(_entry(work, "sample_ids.txt", files.sha256_of(work / "sample_ids.txt")))
    auto = _auto_accepted(base_queryset(project, f), ids)
    if auto:
        _write_ids(work / AUTO_IDS, auto)
        entries.append(_entry(work, AUTO_IDS, files.sha256_of(work / AUTO_IDS)))
    clock.lap("ids")
    beat()
    bundle = files.Bundle(work, f"{slugify(project.name) or 'dataset'}-v{export.version}")
    bundle.add_later([e["name"] for e in entries])
    try:
        manifest = _manifest(export, f, rows, samples, by_source, skipped, writers)
        manifest["weights"] = {
            "loss_mask": weights.mask_of(opts),
            "column": weighted,
            "samples": carried,
        }
        clock.lap("manifest")
        beat()
        _write_card_and_manifest(work, manifest, entries)
        clock.lap("card")
    except BaseException:
        bundle.discard()
        raise
    zip_sha = bundle.finish(["README.md", "manifest.json"])
    clock.lap("bundle")
    entries.append(_entry(work, bundle.path.name, zip_sha, kind="bundle"))
    stored = files.publish(
        work, [e["name"] for e in entries], files.storage_dir(project.pk, export.pk)
    )
    for e in entries:
        e["path"] = stored[e["name"]]
    clock.lap("publish")
    log.info("export %s: %s rows; seconds %s", export.pk, rows, clock.laps)
    return Built(rows, samples, manifest, entries, zip_sha, clock.laps)


def _write_card_and_manifest(
    work: Path, manifest: dict[str, Any], entries: list[dict[str, Any]]
) -> None:
    """The card lists the data files' checksums; the manifest lists the card's too."""
    manifest["files"] = _listed(entries)
    (work / "README.md").write_text(card.render(manifest), encoding="utf-8")
    entries.append(_entry(work, "README.md", files.sha256_of(work / "README.md")))
    manifest["files"] = _listed(entries)
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
    entries.append(_entry(work, "manifest.json", files.sha256_of(work / "manifest.json")))


def _entry(
    work: Path, name: str, sha: str, rows: int | None = None, kind: str = ""
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "bytes": (work / name).stat().st_size, "sha256": sha}
    if rows is not None:
        entry["rows"] = rows
    entry["kind"] = kind or ("data" if rows is not None else "meta")
    return entry


def _listed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: e[k] for k in ("name", "bytes", "sha256", "rows") if k in e} for e in entries]


def _write_ids(path: Path, ids: array[int]) -> int:
    """Sorted, distinct, one per line: what `diff` merges. Returns how many."""
    ordered = all(ids[i] <= ids[i + 1] for i in range(len(ids) - 1))
    values = ids if ordered else array("q", sorted(ids))
    count, last = 0, None
    with open(path, "w", encoding="ascii") as fh:
        chunk: list[str] = []
        for v in values:
            if v != last:
                chunk.append(f"{v}\n")
                count, last = count + 1, v
                if len(chunk) >= 50_000:
                    fh.write("".join(chunk))
                    chunk = []
        fh.write("".join(chunk))
    return count


AUTO_IDS = "auto_accepted_ids.txt"


def _auto_accepted(qs: Any, exported: array[int]) -> array[int]:
    """The exported samples a run's confidence rule accepted, not a person (sorted)."""
    written = array("q", sorted(set(exported)))
    out = array("q")
    for pk in (
        qs.filter(auto_accepted=True)
        .order_by("id")
        .values_list("id", flat=True)
        .iterator(chunk_size=5000)
    ):
        at = bisect_left(written, pk)
        if at < len(written) and written[at] == pk:
            out.append(pk)
    return out


def _lineage(qs: Any) -> dict[str, Any]:
    """Counts per origin, recipe, run, model and prompt version: one GROUP BY over the
    selection (one scan, not five), folded here."""
    keys = (
        "source",
        "recipe_id",
        "recipe_version",
        "run_id",
        "model",
        "prompt_version",
        "auto_accepted",
    )
    groups = {
        "origins": ("source",),
        "decided_by": ("auto_accepted",),
        "recipes": ("recipe_id", "recipe_version"),
        "runs": ("run_id",),
        "models": ("model",),
        "prompt_versions": ("recipe_id", "prompt_version"),
    }
    totals: dict[str, Counter[tuple[Any, ...]]] = {g: Counter() for g in groups}
    for row in qs.order_by().values(*keys).annotate(n=Count("id")).iterator(chunk_size=5000):
        for group, fields in groups.items():
            totals[group][tuple(row[f] for f in fields)] += row["n"]
    return {
        group: [
            dict(zip(groups[group], key, strict=True)) | {"samples": n}
            for key, n in sorted(totals[group].items(), key=lambda kv: (-kv[1], str(kv[0])))[
                :LINEAGE_LIMIT
            ]
        ]
        for group in groups
    }


def _system_prompts(export: Export, f: Any) -> dict[str, Any]:
    """How this version writes system messages, and how many selected samples kept a
    teacher's prompt that prompt erasure replaced (Orca 2)."""
    kept = base_queryset(export.project, f).filter(extra__has_key=system_prompts.ERASED)
    return {"mode": system_prompts.mode_of(export.options), "teacher_prompts": kept.count()}


def _agreement(export: Export, queue_ids: list[int]) -> list[dict[str, Any]]:
    from curation.review.presenters import queue_agreement

    queues = ReviewQueue.objects.filter(project=export.project).order_by("id")
    if queue_ids:
        queues = queues.filter(pk__in=queue_ids)
    out = []
    for queue in queues.filter(items__reviews__isnull=False).distinct():
        out.append({"queue_id": queue.pk, "queue": queue.name, **queue_agreement(queue)})
    return out


def _manifest(
    export: Export,
    f: Any,
    rows: int,
    samples: int,
    by_source: Counter[str],
    skipped: Counter[str],
    writers: dict[str, Any],
) -> dict[str, Any]:
    return {
        "dataset": export.project.name,
        "project_id": export.project_id,
        "export_id": export.pk,
        "version": export.version,
        "name": export.name,
        "format": export.format,
        "file_type": "parquet" if export.parquet else "jsonl",
        "created_at": export.created_at.isoformat(),
        "built_at": timezone.now().isoformat(),
        "created_by": export.created_by.get_username() if export.created_by else None,
        "filters": f.model_dump(mode="json"),
        "options": export.options,
        "split": export.split or None,
        "rows": rows,
        "samples": samples,
        "counts": {
            "by_split": {name: w.rows for name, w in writers.items()},
            "by_source": dict(sorted(by_source.items())),
            "skipped": dict(sorted(skipped.items())),
        },
        "lineage": _lineage(base_queryset(export.project, f)),
        "system_prompts": _system_prompts(export, f),
        "agreement": _agreement(export, f.queue_ids),
        "pair_rules": PAIR_RULES.split("The rules, which the data card repeats:")[1].strip()
        if export.format in ("dpo", "dpo_conversational", "kto")
        else trajectories.PAIR_RULES
        if export.format == "trajectory_pairs"
        else None,
        "step_label_rules": trajectories.STEP_LABEL_RULES
        if export.format == "step_labels"
        else None,
    }
