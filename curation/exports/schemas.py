from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from curation.api_schema import INT64_MAX, text
from curation.exports.models import ExportFormat
from curation.exports.system_prompts import Mode


class ExportOptionsIn(BaseModel):
    """Options of a version; each one left out takes its default (the service checks them)."""

    # Unknown keys go on to the service, whose 400 names them (a plain pydantic model: ninja's
    # Schema reads attributes and would drop them).
    model_config = ConfigDict(extra="allow")

    include_scores: bool | None = Field(
        default=None, description="DPO: score_chosen / score_rejected columns (default false)."
    )
    include_source: bool | None = Field(
        default=None, description="DPO and KTO: where each pair came from (default true)."
    )
    encoding: Literal["none", "self_instruct"] | None = Field(
        default=None, description="openai and sharegpt: Self-Instruct's fine-tuning encoding."
    )
    encoding_seed: int | None = Field(default=None, ge=0, le=INT64_MAX)
    system_prompt: Mode | None = Field(
        default=None,
        description="System messages. stored (default): as stored; for Orca 2 rows the "
        "generic prompt that replaced the teacher's (prompt erasure). teacher: restore the "
        "teacher's prompt (extra.erased_system_prompt) where a sample kept one, others as "
        "stored. none: drop every system message.",
    )

    loss_mask: Literal["none", "assistant"] | None = Field(
        default=None,
        description='openai and sharegpt: "assistant" gives every message a "weight": 1 on '
        "assistant turns and 0 on the others (system, user, tool), so a trainer learns the "
        'assistant turns only (axolotl\'s per-turn weight). Default "none": no mask.',
    )
    sample_weight: bool | None = Field(
        default=None,
        description="openai, sharegpt and alpaca: when selected samples carry "
        'extra["weight"] (SPAG), every row gets a float `weight` column (1.0 where a sample '
        "has none). Default true; false leaves the column out.",
    )

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ExportIn(Schema):
    format: ExportFormat
    parquet: bool = False
    filters: dict[str, Any] = {}
    split: dict[str, Any] | None = None
    options: ExportOptionsIn = ExportOptionsIn()
    name: str = text("", max_length=200)

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of services.create_export."""
        return self.model_dump() | {"options": self.options.given()}


class PreviewIn(Schema):
    format: ExportFormat
    filters: dict[str, Any] = {}
    options: ExportOptionsIn = ExportOptionsIn()

    def arguments(self) -> dict[str, Any]:
        return self.model_dump() | {"options": self.options.given()}


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
