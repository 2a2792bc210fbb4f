from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field


class ProjectIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class ProjectOut(Schema):
    id: int
    name: str
    slug: str
    description: str
    created_at: datetime
    role: str | None = None


class MemberIn(Schema):
    username: str
    role: str


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
    name: str
    base_url: str
    api_key: str = ""
    api_key_env: str = ""
    chat_model: str
    judge_model: str = ""
    embedding_model: str = ""
    max_concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    price_in_per_1k: Decimal = Decimal(0)
    price_out_per_1k: Decimal = Decimal(0)
    timeout_s: float = 120.0
    is_default: bool = False


class EndpointTestOut(Schema):
    ok: bool
    models: list[str] = []
    reply: str = ""
    latency_ms: int = 0
    error: str = ""
    capabilities: dict[str, Any] = {}  # as stored on the endpoint after this test
