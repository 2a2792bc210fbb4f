from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from curation.dedup.models import Scope


class SimilarOut(Schema):
    id: int
    similarity: float
    status: str
    dup_status: str
    run_id: int | None
    first_message: str


class ClusterMemberOut(Schema):
    key: str  # "x<sample id>" or "s<seed id>"
    sample_id: int | None
    seed_id: int | None
    similarity: float
    canonical: bool
    exported: bool
    text: str
    status: str  # the sample's review status ("seed" for seeds)


class ClusterOut(Schema):
    id: int
    status: str
    size: int
    max_similarity: float
    threshold: float
    canonical: str
    members: list[ClusterMemberOut]
    decided_by: str | None
    decided_at: datetime | None


class ClusterPage(Schema):
    count: int
    page: int
    pages: int
    results: list[ClusterOut]


class DedupIn(Schema):
    threshold: float | None = Field(default=None, gt=0, le=1)  # a cosine similarity
    scopes: list[Scope] | None = Field(default=None, max_length=len(Scope.values))


class JobOut(Schema):
    id: int
    project_id: int
    status: str
    scopes: list[str]
    threshold: float
    total: int
    done: int
    progress: float
    result: dict[str, Any]
    error: str
    created_at: datetime
    finished_at: datetime | None


class CanonicalIn(Schema):
    member: str = Field(pattern=r"^[xs][0-9]{1,19}$", description='"x<sample id>" or "s<seed id>".')


class HitOut(Schema):
    kind: str
    id: int
    similarity: float
    text: str
