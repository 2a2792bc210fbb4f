"""The tool-response cache as a read-only page (generation/tools/cache.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render

from curation.http import AuthedRequest
from curation.projects.access import project_for
from generation.runs.models import ToolResponse

PAGE_SIZE = 50


@login_required
def tool_cache(request: AuthedRequest, project_id: int) -> HttpResponse:
    """What the tool simulator serves this project, newest first; ?tool= filters."""
    project = project_for(request.user, project_id)
    rows = ToolResponse.objects.filter(project=project)
    tools = list(rows.values("tool").annotate(n=Count("id")).order_by("tool"))
    tool = request.GET.get("tool", "")
    if tool:
        rows = rows.filter(tool=tool)
    page = Paginator(rows.order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"project": project, "page": page, "tools": tools, "tool": tool}
    return render(request, "runs/tool_cache.html", ctx)
