"""Request ids, and errors under /api/v1 that are always JSON `{"detail": ...}`.

Every request gets an id: the client's `X-Request-ID` when it is a sane token, else a new
one. It is echoed in the response's `X-Request-ID` header and stamped on every log line
written while the request runs (`[id]` after the logger name), so a user who quotes the id
of a 500 leads straight to its traceback in the server log.

Under /api/v1 a server error is `{"detail": "Internal server error.", "request_id": ...}`
with status 500 (the API's exception handler, `api_server_error`), and any other error
response that is not JSON (Django's 404 for an unknown path, a 405, a 413) is rewritten to
`{"detail": <reason>}` with its status kept, by `ApiJsonErrorsMiddleware`.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("seedbed.api")

API_PREFIX = "/api/v1"
# The docs page and the schema are served as they are (HTML and JSON of their own).
_AS_IS = (f"{API_PREFIX}/docs", f"{API_PREFIX}/openapi.json")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def request_id_of(request: HttpRequest) -> str:
    return getattr(request, "request_id", None) or current_request_id.get()


class RequestIdFilter(logging.Filter):
    """Gives every log record a `request_id` ("-" outside a request, e.g. in a worker)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        rid = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = current_request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response.headers["X-Request-ID"] = rid
        return response


def is_api(request: HttpRequest) -> bool:
    path = request.path
    return (path == API_PREFIX or path.startswith(f"{API_PREFIX}/")) and not path.startswith(_AS_IS)


def api_server_error(request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
    """The API's handler of last resort: logged with its traceback, answered as JSON."""
    rid = request_id_of(request)
    logger.error(
        "API error %s %s (request %s)",
        request.method,
        request.path,
        rid,
        exc_info=exc if isinstance(exc, BaseException) else True,
    )
    return JsonResponse(
        {"detail": "Internal server error.", "request_id": rid},
        status=500,
        headers={"X-Request-ID": rid},
    )


class ApiJsonErrorsMiddleware:
    """Error responses under /api/v1 that are not JSON become `{"detail": <reason>}`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not is_api(request):
            return response
        if response.status_code == 429 and getattr(request, "retry_after", None):
            response["Retry-After"] = str(request.retry_after)  # type: ignore[attr-defined]
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return _as_json(request, response)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        # What escapes a view outside the API's own handlers (e.g. a URL converter).
        return api_server_error(request, exc) if is_api(request) else None


def _as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    status = response.status_code
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = response.reason_phrase or "Error"
    body: dict[str, str] = {"detail": f"{reason}."}
    if status == 404:
        body["detail"] = f"No API endpoint at {request.path}. See {API_PREFIX}/docs."
    elif status == 405:
        allowed = response.get("Allow", "")
        body["detail"] = f"Method {request.method} is not allowed here." + (
            f" Allowed: {allowed}." if allowed else ""
        )
    elif status >= 500:
        body = {"detail": "Internal server error.", "request_id": request_id_of(request)}
    converted = JsonResponse(body, status=status)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            converted[header] = response[header]
    return converted
