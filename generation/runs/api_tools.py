"""The tool-response cache over the API (generation/tools): what the simulator serves."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.params import functions as param

from curation.api_schema import INT32_MAX, NO_NUL, errors
from curation.paging import page_of
from curation.projects.access import project_for
from generation.runs.models import ToolResponse

router = Router(tags=["tools"])


class ToolResponseOut(Schema):
    id: int
    tool: str
    args_key: str
    arguments: str  # canonical JSON, as the cache keys it
    response: str  # exactly as served
    source: str  # implementation | simulated | recorded
    created_at: datetime


class ToolResponsePage(Schema):
    count: int
    page: int
    pages: int
    results: list[ToolResponseOut]


@router.get("/projects/{project_id}/tool-cache", response={200: ToolResponsePage, **errors(400)})
def list_tool_cache(
    request: HttpRequest,
    project_id: int,
    tool: str = param.Query("", max_length=128, pattern=NO_NUL),
    source: Literal[""] | ToolResponse.Source = "",
    page: int = param.Query(1, ge=1, le=INT32_MAX),
    page_size: int = param.Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """The project's cached tool responses, newest first; `tool=` and `source=` filter."""
    project = project_for(request.user, project_id)
    rows = ToolResponse.objects.filter(project=project)
    if tool:
        rows = rows.filter(tool=tool)
    if source:
        if source not in ToolResponse.Source.values:
            known = ", ".join(ToolResponse.Source.values)
            raise HttpError(400, f"Unknown source {source!r}; one of {known}.")
        rows = rows.filter(source=source)
    return page_of(rows.order_by("-id"), page, page_size)
