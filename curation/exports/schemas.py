from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class ExportIn(Schema):
    format: str
    parquet: bool = False
    filters: dict[str, Any] = {}
    split: dict[str, Any] | None = None
    options: dict[str, Any] = {}
    name: str = ""


class PreviewIn(Schema):
    format: str
    filters: dict[str, Any] = {}
    options: dict[str, Any] = {}


class ExportOut(Schema):
    id: int
    project_id: int
    version: int
    name: str
    format: str
    parquet: bool
    status: str
    progress: float
    rows_written: int
    rows_total: int | None
    sample_count: int
    filters: dict[str, Any]
    split: dict[str, Any]
    options: dict[str, Any]
    files: list[dict[str, Any]]
    sha256: str
    error: str
    manifest: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
