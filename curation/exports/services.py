"""Export verbs: create a version (queued, built by a task), build it, diff two versions.

A version is immutable: files, manifest and checksums are written once, by the one worker
that claimed it with a conditional UPDATE; a re-delivered task finds nothing to do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from curation.exports import bfcl_import, builder, streams, system_prompts, weights
from curation.exports.filters import (
    ExportFilters,
    check_ownership,
    parse_filters,
    pydantic_message,
)
from curation.exports.formats import ALL_FORMATS
from curation.exports.importing import detect, read_records, to_draft, to_seed
from curation.exports.models import Export, ExportFormat, ExportStatus
from curation.projects import audit
from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.samples.models import Sample, SampleStatus, content_hash
from curation.seeds.parsing import SeedImportError
from curation.seeds.services import import_seed_set

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=5)  # no heartbeat for this long: another worker may take over
DIFF_LIMIT = 1000
# Rows whose nested values differ in shape from row to row (BFCL's answers, steps' arguments).
JSONL_ONLY = (ExportFormat.BFCL, ExportFormat.STEP_LABELS, ExportFormat.TRAJECTORY_PAIRS)


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid")
    validation: float = Field(gt=0, lt=1)
    seed: int = 0


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_scores: bool = False  # DPO: score_chosen / score_rejected columns
    include_source: bool = True  # DPO and KTO: where each pair came from
    # SFT (openai, sharegpt): Self-Instruct's fine-tuning encoding, random templates per
    # instance (curation/exports/encodings.py); "none" keeps the messages as they are.
    encoding: Literal["none", "self_instruct"] = "none"
    encoding_seed: int = 0
    # Every format: the system messages as stored, with Orca 2's erased teacher prompts
    # restored, or none at all (curation/exports/system_prompts.py).
    system_prompt: system_prompts.Mode = "stored"
    # SFT (openai, sharegpt): a 0/1 `weight` per message, 1 on assistant turns, so training
    # learns the assistant turns only (curation/exports/weights.py).
    loss_mask: weights.LossMask = "none"
    # SFT (openai, sharegpt, alpaca): a `weight` column when selected samples carry
    # extra["weight"] (SPAG); False leaves it out.
    sample_weight: bool = True


def _validated(model: type[BaseModel], raw: dict[str, Any] | None, what: str) -> dict[str, Any]:
    try:
        return model.model_validate(raw or {}).model_dump()
    except ValidationError as exc:
        raise ServiceError(f"Bad {what}: {pydantic_message(exc)}") from exc


def _options(format: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    opts = _validated(Options, raw, "options")
    if opts["encoding"] != "none" and format not in ("openai", "sharegpt"):
        raise ServiceError(
            f"The {opts['encoding']} encoding applies to the openai and sharegpt formats, "
            f"not {format}."
        )
    if opts["loss_mask"] != "none" and format not in weights.MASKED_FORMATS:
        raise ServiceError(
            f"The {opts['loss_mask']} loss mask applies to the openai and sharegpt formats, "
            f"not {format}."
        )
    return opts


def _filters_for(project: Project, format: str, filters: dict[str, Any] | None) -> ExportFilters:
    if format not in ExportFormat.values:
        choices = ", ".join(ExportFormat.values)
        raise ServiceError(f"Unknown format {format!r}; choose one of {choices}.")
    raw = dict(filters or {})
    if format == ExportFormat.KTO and "statuses" not in raw:
        raw["statuses"] = [SampleStatus.ACCEPTED, SampleStatus.REJECTED]  # the label is the status
    if format == ExportFormat.STEP_LABELS and "statuses" not in raw:
        raw["statuses"] = list(SampleStatus)  # failures teach too: the labels say which steps
    if format == ExportFormat.TRAJECTORY_PAIRS and "statuses" not in raw:
        raw["statuses"] = [SampleStatus.ACCEPTED, SampleStatus.PENDING]  # env-checked successes
    f = parse_filters(raw)
    check_ownership(project, f)
    return f


def create_export(
    actor: Any,
    project: Project,
    *,
    format: str,
    parquet: bool = False,
    filters: dict[str, Any] | None = None,
    split: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    name: str = "",
    enqueue: bool = True,
) -> Export:
    """A new queued version; the task builds it (or the caller, with enqueue=False)."""
    f = _filters_for(project, format, filters)
    if parquet and format in JSONL_ONLY:
        name = "BFCL" if format == ExportFormat.BFCL else format
        raise ServiceError(f"{name} files are JSONL: export {format} without Parquet.")
    split_spec = _validated(Split, split, "split") if split else {}
    opts = _options(format, options)
    expected = streams.estimate(project, f, format)
    if expected == 0:
        raise ServiceError("No samples match these filters; nothing to export.")
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # one version at a time
        last = Export.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0
        export = Export.objects.create(
            project=project,
            version=last + 1,
            name=name.strip()[:200],
            format=format,
            parquet=parquet,
            filters=f.model_dump(mode="json"),
            split=split_spec,
            options=opts,
            rows_total=expected,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(
            actor,
            "export.create",
            export,
            project=project,
            after={
                "version": export.version,
                "format": format,
                "parquet": parquet,
                "filters": export.filters,
                "options": opts,
            },
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(export.pk))
    return export


def _enqueue(export_id: int) -> None:
    from curation.exports.tasks import build_export_task

    build_export_task.delay(export_id)


def build_export(export_id: int) -> Export | None:
    """Claim and build; None when there is nothing to do (done, or another worker is on it)."""
    now = timezone.now()
    claimed = (
        Export.objects.filter(pk=export_id)
        .filter(
            Q(status=ExportStatus.QUEUED)
            | Q(status=ExportStatus.BUILDING, heartbeat_at__lt=now - STALE_AFTER)
        )
        .update(status=ExportStatus.BUILDING, started_at=now, heartbeat_at=now, rows_written=0)
    )
    if not claimed:
        return None
    export = Export.objects.select_related("project", "created_by").get(pk=export_id)
    mine = Export.objects.filter(pk=export_id, status=ExportStatus.BUILDING, started_at=now)

    def progress(rows: int) -> bool:
        return mine.update(rows_written=rows, heartbeat_at=timezone.now()) == 1

    try:
        built = builder.build(export, progress)
    except builder.Abandoned:
        return None
    except Exception as exc:
        # Recorded for the person waiting on the page, then re-raised for the worker's log.
        mine.update(status=ExportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
        raise
    with transaction.atomic():
        done = mine.update(
            status=ExportStatus.COMPLETE,
            rows_written=built.rows,
            rows_total=built.rows,
            sample_count=built.samples,
            manifest=built.manifest,
            files=built.files,
            sha256=built.sha256,
            finished_at=timezone.now(),
        )
        if done:
            audit.record(
                export.created_by,
                "export.complete",
                export,
                project=export.project_id,
                after={"rows": built.rows, "samples": built.samples, "sha256": built.sha256},
            )
    export.refresh_from_db()
    return export


def _ids(export: Export) -> Iterator[int]:
    entry = export.file_named("sample_ids.txt")
    if export.status != ExportStatus.COMPLETE or entry is None:
        raise ServiceError(f"Version {export.version} is not complete; it cannot be compared yet.")
    with default_storage.open(entry["path"], "rb") as fh:
        for line in fh:
            yield int(line)


def exported_sample_ids(project_id: int) -> set[int]:
    """Every sample id in the project's complete versions: the dedup "exports" scope reads
    it through the SEEDBED_EXPORTED_SAMPLES setting."""
    ids: set[int] = set()
    for export in Export.objects.filter(project_id=project_id, status=ExportStatus.COMPLETE):
        if export.file_named("sample_ids.txt") is not None:
            ids.update(_ids(export))
    return ids


def diff_versions(old: Export, new: Export, limit: int = DIFF_LIMIT) -> dict[str, Any]:
    """Sample ids added and removed from `old` to `new`: a merge of two sorted id files,
    so memory stays flat however large the versions are."""
    if old.project_id != new.project_id:
        raise ServiceError("Both versions must belong to the same project.")
    added: list[int] = []
    removed: list[int] = []
    counts = {"added": 0, "removed": 0, "unchanged": 0}
    a, b = _ids(old), _ids(new)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x < y):
            counts["removed"] += 1
            if len(removed) < limit:
                removed.append(x)  # type: ignore[arg-type]
            x = next(a, None)
        elif x is None or y < x:
            counts["added"] += 1
            if len(added) < limit:
                added.append(y)
            y = next(b, None)
        else:
            counts["unchanged"] += 1
            x, y = next(a, None), next(b, None)
    return {
        "from_version": old.version,
        "to_version": new.version,
        "added_count": counts["added"],
        "removed_count": counts["removed"],
        "unchanged_count": counts["unchanged"],
        "added": added,
        "removed": removed,
        "truncated": counts["added"] > limit or counts["removed"] > limit,
    }


MAX_IMPORT_ROWS = 200_000
IMPORT_BATCH = 2000


def import_dataset(
    actor: Any,
    project: Project,
    *,
    data: bytes,
    fmt: str = "auto",
    target: str = "samples",
    name: str = "",
    filename: str = "",
    answers: bytes = b"",
) -> dict[str, Any]:
    """A dataset in any export format, as samples to review (status pending, source
    "import") or as a seed set. All or nothing: the first bad record stops it, by line.
    `answers`: BFCL's possible_answer file, read after `data`."""
    if target not in ("samples", "seed_set"):
        raise ServiceError("Import as 'samples' or as a 'seed_set'.")
    if fmt != "auto" and fmt not in ALL_FORMATS:
        raise ServiceError(
            f"Unknown format {fmt!r}; choose auto or one of {', '.join(ALL_FORMATS)}."
        )
    limit = settings.SEEDBED_MAX_UPLOAD_BYTES
    if len(data) + len(answers) > limit:
        raise ServiceError(
            f"The file is {len(data) + len(answers):,} bytes; the limit is {limit:,}."
        )
    files = [("", data)] + ([("possible-answer file, ", answers)] if answers else [])
    drafts: list[tuple[str, Sample]] = []
    bfcl_records: bfcl_import.Records = []  # joined by id once all are read
    try:
        for label, blob in files:
            if label and fmt != "bfcl":
                raise ServiceError("A possible-answer file goes with a BFCL import only.")
            for at, record in read_records(blob, MAX_IMPORT_ROWS):
                where = label + at
                if fmt == "auto":
                    fmt = detect(record, where)  # the first record decides; the others match it
                if fmt == "bfcl":
                    bfcl_records.append((where, record))
                else:
                    drafts.append((where, to_draft(fmt, record, where)))
        if fmt == "bfcl":
            drafts = bfcl_import.drafts(bfcl_records)
    except SeedImportError as exc:
        raise ServiceError(str(exc)) from exc
    if not drafts:
        raise ServiceError("The file holds no records.")
    if target == "seed_set":
        body = "".join(json.dumps(to_seed(d), ensure_ascii=False) + "\n" for _, d in drafts)
        seed_set = import_seed_set(
            actor,
            project,
            name=name or filename or f"Imported {fmt} dataset",
            data=body.encode(),
            filename=filename,
        )
        return {
            "target": "seed_set",
            "format": fmt,
            "seed_set_id": seed_set.pk,
            "imported": len(drafts),
            "duplicates": 0,
        }
    return _store_samples(actor, project, fmt, filename, drafts)


@transaction.atomic
def _store_samples(
    actor: Any, project: Project, fmt: str, filename: str, drafts: list[tuple[str, Sample]]
) -> dict[str, Any]:
    # One import at a time per project: the check for existing hashes below then holds
    # until the insert (two imports of one file no longer race into the unique constraint).
    Project.objects.select_for_update().filter(pk=project.pk).first()
    rows: dict[str, Sample] = {}
    for where, d in drafts:
        digest = content_hash(d)
        if digest in rows:
            continue  # the same record twice in one file: one sample
        lineage = {"import": {"file": filename[:255], "format": fmt, "at": where}}
        d.project, d.extra, d.source = project, d.extra | lineage, "import"
        d.content_hash, d.status = digest, SampleStatus.PENDING
        rows[digest] = d
    existing = set()
    hashes = list(rows)
    for start in range(0, len(hashes), IMPORT_BATCH):
        existing |= set(
            Sample.objects.filter(
                project=project, content_hash__in=hashes[start : start + IMPORT_BATCH]
            ).values_list("content_hash", flat=True)
        )
    new = [s for h, s in rows.items() if h not in existing]
    Sample.objects.bulk_create(new, batch_size=IMPORT_BATCH)
    result = {
        "target": "samples",
        "format": fmt,
        "imported": len(new),
        "duplicates": len(drafts) - len(new),
        "first_id": new[0].pk if new else None,
        "last_id": new[-1].pk if new else None,
    }
    audit.record(
        actor, "dataset.import", project, project=project, after=result | {"file": filename[:255]}
    )
    return result


def preview(
    project: Project,
    *,
    format: str,
    filters: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    rows: int = 5,
) -> dict[str, Any]:
    """The live count and the first rows, for the export form. Reads only."""
    f = _filters_for(project, format, filters)
    opts = _options(format, options)
    first: list[dict[str, Any]] = []
    # Inside a transaction the server-side cursors are not WITH HOLD, so Postgres sends the
    # first rows as soon as it has them instead of computing the whole selection first.
    with transaction.atomic():
        stream = streams.stream(project, f, format, opts)
        for item in stream:
            if not isinstance(item, str):
                first.append(item.row)
                if len(first) >= rows:
                    break
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # a generator: its open cursors close before the transaction ends
    return {"count": streams.estimate(project, f, format), "rows": first}
