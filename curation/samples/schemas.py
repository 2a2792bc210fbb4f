from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class SampleOut(Schema):
    id: int
    project_id: int
    kind: str
    status: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    chosen: Any | None
    rejected: Any | None
    label: str
    extra: dict[str, Any]
    run_id: int | None
    seed_ids: list[int]
    parent_id: int | None
    step: str
    recipe_id: str
    recipe_version: str
    prompt_version: str
    model: str
    judge_score: float | None
    judge_confidence: float | None  # 0-1: how sure the judging was; null: unknown
    auto_accepted: bool  # accepted by its run's confidence rule, not by a person
    dup_status: str
    tags: list[str]
    created_at: datetime


class SamplePage(Schema):
    count: int
    page: int
    pages: int
    results: list[SampleOut]
