"""The REST API at /api/v1: every app's router, one auth policy, errors with a `detail`."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from curation.api_schema import ErrorOut, ValidationErrorOut
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


class NulInBody(ValueError):
    """A JSON body holding a NUL character, which Postgres cannot store in text or jsonb."""

    def __init__(self, loc: list[str | int]) -> None:
        super().__init__("NUL characters (\\u0000) are not allowed.")
        self.loc = loc


def _refuse_nul(value: Any, loc: list[str | int]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise NulInBody(loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, [*loc, key])
            _refuse_nul(item, [*loc, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_nul(item, [*loc, i])


class JsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(request.body)
        _refuse_nul(data, ["body"])
        return data


class SeedbedAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        declare_common_errors(schema)
        return schema


def declare_common_errors(schema: dict[str, Any]) -> None:
    """The errors any operation may answer without saying so itself: 401 without a token,
    403 and 404 for the objects a path names, 422 for input that does not fit."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorOut, ValidationErrorOut):
        components.setdefault(
            model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}")
        )

    def body(name: str, description: str) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{name}"}
        return {"description": description, "content": {"application/json": {"schema": ref}}}

    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            # ninja keys responses by int status; so do these.
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                responses.setdefault(401, body("ErrorOut", "No valid bearer token."))
            if "{" in path:
                responses.setdefault(403, body("ErrorOut", "Your role here does not allow it."))
                responses.setdefault(404, body("ErrorOut", "No such object of yours."))
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault(422, body("ValidationErrorOut", "Invalid input."))


api = SeedbedAPI(
    title="Seedbed API",
    version="1",
    description="Grow LLM training data from seed sets and curate it. "
    "Authenticate with `Authorization: Bearer <token>` (issue one on the Tokens page "
    "or with `manage.py create_api_token USERNAME`).",
    auth=API_AUTH,
    urls_namespace="api",
    docs_url="/docs",
    parser=JsonParser(),
)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, NulInBody):
        # Refused like any other invalid input, not as an unparsable body.
        problem = {"type": "string_pattern_mismatch", "loc": cause.loc, "msg": str(cause)}
        return api.create_response(request, {"detail": [problem]}, status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


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
