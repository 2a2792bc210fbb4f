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
    kinds: list[str]
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


class SeedKindFieldOut(Schema):
    name: str
    description: str
    required: bool
    aliases: list[str]


class SeedKindOut(Schema):
    id: str
    label: str
    description: str
    fields: list[SeedKindFieldOut]
    payload: list[str]
    payload_optional: list[str]
    example: dict[str, Any]
    detected_by: str
