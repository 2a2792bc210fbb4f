"""`/api/v1/health` reports the database, pgvector, the broker and the LLM endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_health_reports_postgres_and_pgvector_without_logging_in() -> None:
    response = Client().get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"]["postgres"].startswith("18.")
    assert body["database"]["pgvector"].startswith("0.8")
    assert body["broker"]["ok"] is True


def test_health_fails_clearly_when_the_llm_endpoint_is_unreachable(settings: Any) -> None:
    settings.SEEDBED_LLM_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    response = Client().get("/api/v1/health")
    assert response.status_code == 503
    llm = response.json()["llm"][0]
    assert llm["ok"] is False
    assert "unreachable" in llm["error"]


def test_health_does_not_reveal_the_endpoint_address_or_key(settings: Any) -> None:
    settings.SEEDBED_LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.SEEDBED_LLM_API_KEY = "sk-secret-value"
    text = Client().get("/api/v1/health").content.decode()
    assert "127.0.0.1:9" not in text
    assert "sk-secret-value" not in text


def test_the_openapi_docs_are_served() -> None:
    assert Client().get("/api/v1/docs").status_code == 200
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/projects/{project_id}/seed-sets" in schema["paths"]


def test_every_response_says_how_long_the_server_spent_on_it() -> None:
    response = Client().get("/api/v1/health")
    name, dur = response["Server-Timing"].split(";dur=")
    assert name == "app"
    assert float(dur) > 0
