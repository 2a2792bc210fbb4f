"""Importing seed sets: parse everything first, then write everything in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from curation.projects import audit
from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.seeds.models import Seed, SeedSet
from curation.seeds.parsing import ParsedSeed, SeedImportError, detect_format, parse_seed_file

BATCH = 2000


def import_seed_set(
    actor: Any,
    project: Project,
    *,
    name: str,
    data: bytes,
    filename: str = "",
    description: str = "",
    kind: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> SeedSet:
    """All or nothing: a file with one bad record imports no seeds at all.

    `kind` reads every record as that kind instead of detecting it; `mapping` names, per
    payload field, the uploaded column that holds it. Raises ServiceError with the line and
    field of the first problem.
    """
    name = name.strip()
    if not name:
        raise ServiceError("A seed set needs a name.")
    if SeedSet.objects.filter(project=project, name=name).exists():
        raise ServiceError(f"This project already has a seed set named {name!r}.")
    try:
        parsed = parse_seed_file(
            data,
            max_bytes=settings.SEEDBED_MAX_UPLOAD_BYTES,
            kind=kind or None,
            mapping=mapping,
            filename=filename,
        )
        fmt = detect_format(data, filename, kind or None)
    except SeedImportError as exc:
        raise ServiceError(str(exc)) from exc
    if not parsed:
        raise ServiceError("The file holds no seeds.")
    try:
        return _store(actor, project, name, description, filename, fmt, parsed, dict(mapping or {}))
    except IntegrityError as exc:  # a concurrent import took the name
        raise ServiceError(f"This project already has a seed set named {name!r}.") from exc


@transaction.atomic
def _store(
    actor: Any,
    project: Project,
    name: str,
    description: str,
    filename: str,
    fmt: str,
    parsed: list[ParsedSeed],
    mapping: dict[str, str],
) -> SeedSet:
    kinds = sorted({p.kind for p in parsed})
    seed_set = SeedSet.objects.create(
        project=project,
        name=name,
        description=description,
        source_filename=filename[:255],
        source_format=fmt,
        seed_count=len(parsed),
        kinds=kinds,
        created_by=actor,
    )
    for start in range(0, len(parsed), BATCH):
        Seed.objects.bulk_create(
            [
                Seed(seed_set=seed_set, position=i, kind=p.kind, payload=p.payload, text=p.text)
                for i, p in enumerate(parsed[start : start + BATCH], start=start + 1)
            ]
        )
    audit.record(
        actor,
        "seedset.import",
        seed_set,
        project=project,
        after={
            "name": name,
            "seeds": len(parsed),
            "format": fmt,
            "filename": filename,
            "kinds": kinds,
            "mapping": mapping,
        },
    )
    return seed_set


@transaction.atomic
def delete_seed_set(actor: Any, seed_set: SeedSet) -> None:
    if seed_set.runs.exists():
        raise ServiceError("Runs use this seed set; it stays for their lineage.")
    audit.record(
        actor,
        "seedset.delete",
        seed_set,
        project=seed_set.project_id,
        before={"name": seed_set.name, "seeds": seed_set.seed_count},
    )
    seed_set.delete()
