from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class SeedSetOut(Schema):
    id: int
    project_id: int
    name: str
    description: str
    source_filename: str
    source_format: str
    seed_count: int
    created_at: datetime


class SeedOut(Schema):
    id: int
    position: int
    kind: str
    payload: dict[str, Any]
    text: str


class SeedPage(Schema):
    count: int
    page: int
    pages: int
    results: list[SeedOut]
