"""Helpers for export tests: build a version through the service and read its files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.test import TestCase

from curation.exports import services
from curation.exports.models import Export


def export_now(actor: Any, project: Any, **kwargs: Any) -> Export:
    """Create a version; Celery is eager in tests, so it is built on commit (captured here)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        export = services.create_export(actor, project, **kwargs)
    export.refresh_from_db()
    assert export.status == "complete", export.error
    return export


def path_of(export: Export, name: str) -> Path:
    entry = export.file_named(name)
    assert entry is not None, f"{name} not in {[f['name'] for f in export.files]}"
    return Path(default_storage.path(entry["path"]))


def jsonl_rows(export: Export, name: str = "train.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in path_of(export, name).read_text().splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
