"""Errors under /api/v1 are JSON `{"detail": ...}`, and a 500 carries a request id the log has."""

from __future__ import annotations

import logging
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_a_server_error_is_json_with_a_request_id_that_the_log_also_has(
    cast: Any, api_client_for: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr("curation.projects.api._project_out", broken)
    client = api_client_for(cast.owner)

    with caplog.at_level(logging.ERROR, logger="seedbed.api"):
        response = client.get("/api/v1/projects")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["detail"] == "Internal server error."
    assert "fire" not in response.content.decode()
    rid = body["request_id"]
    assert len(rid) >= 16 and response["X-Request-ID"] == rid
    (record,) = [r for r in caplog.records if r.name == "seedbed.api"]
    assert rid in record.getMessage() and record.request_id == rid
    assert record.exc_info is not None and "fire" in str(record.exc_info[1])


def test_a_clients_request_id_is_kept_and_a_hostile_one_replaced(
    cast: Any, api_client_for: Any
) -> None:
    client = api_client_for(cast.owner)

    kept = client.get("/api/v1/projects", HTTP_X_REQUEST_ID="trace-42.a")
    replaced = client.get("/api/v1/projects", HTTP_X_REQUEST_ID="<script>\nx")

    assert kept["X-Request-ID"] == "trace-42.a"
    assert replaced["X-Request-ID"] != "<script>\nx"
    assert replaced["X-Request-ID"].isalnum()


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("get", "/api/v1/no-such-thing", 404, "No API endpoint at /api/v1/no-such-thing."),
        ("delete", "/api/v1/projects", 405, "Method DELETE is not allowed here."),
    ],
)
def test_errors_django_answers_under_the_api_are_json_too(
    cast: Any, api_client_for: Any, method: str, path: str, status: int, detail: str
) -> None:
    response = getattr(api_client_for(cast.owner), method)(path)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith(detail)


def test_an_unauthenticated_request_is_told_why_in_json(client: Any) -> None:
    response = client.get("/api/v1/projects")

    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_pages_outside_the_api_keep_their_html_errors(client: Any) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
