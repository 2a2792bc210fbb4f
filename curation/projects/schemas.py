from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field

from curation.api_schema import INT32_MAX, Price, text
from curation.projects.models import Role


class ProjectIn(Schema):
    name: str = text(min_length=1, max_length=200)
    description: str = text("")


class ProjectOut(Schema):
    id: int
    name: str
    slug: str
    description: str
    created_at: datetime
    role: str | None = None


class MemberIn(Schema):
    username: str = text(min_length=1, max_length=150)
    role: Role


class MemberOut(Schema):
    id: int
    username: str
    role: str


class AuditEventOut(Schema):
    id: int
    actor: str | None
    verb: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


class EndpointOut(Schema):
    id: int
    name: str
    base_url: str
    key: str  # only a hint such as "…3f9a": keys are never returned
    chat_model: str
    judge_model: str
    embedding_model: str
    max_concurrency: int
    rpm: int | None
    tpm: int | None
    price_in_per_1k: Decimal
    price_out_per_1k: Decimal
    is_default: bool
    # What "Test connection" found ({"chat": true, "logprobs": false, ..., "checked_at": ...});
    # {} = never probed. A flag that is null could not be told (a timeout, a 5xx).
    capabilities: dict[str, Any] = {}


class MeOut(Schema):
    username: str
    projects: list[ProjectOut]


class EndpointIn(Schema):
    name: str = text(min_length=1, max_length=100)
    # http(s) with a host (ModelEndpoint.validate_base_url).
    base_url: str = Field(
        min_length=8,
        max_length=500,
        pattern=r"^https?://[^\s/?#@\[\]:\x00]+(:[0-9]{1,5})?([/?#][^\x00]*)?$",
    )
    api_key: str = text("", max_length=4096)
    api_key_env: str = text("", max_length=100)
    chat_model: str = text(min_length=1, max_length=200)
    judge_model: str = text("", max_length=200)
    embedding_model: str = text("", max_length=200)
    max_concurrency: int = Field(default=8, ge=1, le=10_000)
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    price_in_per_1k: Price = Decimal(0)
    price_out_per_1k: Price = Decimal(0)
    timeout_s: float = Field(default=120.0, gt=0, le=3600)
    is_default: bool = False


class EndpointTestOut(Schema):
    ok: bool
    models: list[str] = []
    reply: str = ""
    latency_ms: int = 0
    error: str = ""
    capabilities: dict[str, Any] = {}  # as stored on the endpoint after this test
