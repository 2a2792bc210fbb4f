"""The REST API at /api/v1: every app's router, one auth policy, errors with a `detail`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from curation.auth import API_AUTH
from curation.dedup.api import router as dedup_router
from curation.errors import api_server_error
from curation.exports.api import router as exports_router
from curation.health import health
from curation.projects.api import router as projects_router
from curation.review.api import router as review_router
from curation.samples.api import router as samples_router
from curation.seeds.api import router as seeds_router
from generation.runs.api import router as runs_router
from generation.runs.api_tools import router as tools_router

api = NinjaAPI(
    title="Seedbed API",
    version="1",
    description="Grow LLM training data from seed sets and curate it. "
    "Authenticate with `Authorization: Bearer <token>` (issue one on the Tokens page "
    "or with `manage.py create_api_token USERNAME`).",
    auth=API_AUTH,
    urls_namespace="api",
    docs_url="/docs",
)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


# Anything else a view raises: logged with its traceback and request id, answered as JSON.
api.add_exception_handler(Exception, api_server_error)


@api.get("/health", auth=None, tags=["health"])
def get_health(request: HttpRequest) -> Any:
    report = health()
    return api.create_response(request, report, status=200 if report["ok"] else 503)


api.add_router("", projects_router)
api.add_router("", seeds_router)
api.add_router("", samples_router)
api.add_router("", runs_router)
api.add_router("", tools_router)
api.add_router("", review_router)
api.add_router("", exports_router)
api.add_router("", dedup_router)
