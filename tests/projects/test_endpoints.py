"""Model endpoints keep their API keys encrypted and never show them back."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.projects import services
from curation.projects.models import AuditEvent, ModelEndpoint
from tests.cast import Cast

pytestmark = pytest.mark.django_db

KEY = "sk-live-0123456789abcdef"


def make_endpoint(cast: Cast) -> ModelEndpoint:
    return services.save_endpoint(
        cast.owner,
        cast.project,
        name="openai",
        api_key=KEY,
        base_url="https://api.example.com/v1",
        chat_model="gpt-x",
        max_concurrency=4,
    )


def test_an_api_key_is_stored_encrypted_and_read_back_for_calls(cast: Cast) -> None:
    endpoint = make_endpoint(cast)
    stored = ModelEndpoint.objects.values_list("api_key_encrypted", flat=True).get(pk=endpoint.pk)
    assert KEY not in stored
    assert ModelEndpoint.objects.get(pk=endpoint.pk).get_api_key() == KEY


def test_the_api_lists_endpoints_with_a_key_hint_only(cast: Cast, api_client_for: Any) -> None:
    make_endpoint(cast)
    response = api_client_for(cast.viewer).get(f"/api/v1/projects/{cast.project.pk}/endpoints")
    assert KEY not in response.content.decode()
    assert response.json()[0]["key"] == "…cdef"


def test_the_project_page_and_audit_log_never_show_the_key(cast: Cast) -> None:
    make_endpoint(cast)
    client = Client()
    client.force_login(cast.owner)
    assert KEY not in client.get(f"/projects/{cast.project.pk}/").content.decode()
    assert KEY not in client.get(f"/projects/{cast.project.pk}/audit/").content.decode()
    assert KEY not in str(AuditEvent.objects.get(verb="endpoint.save").after)


def test_a_key_can_come_from_an_environment_variable(cast: Cast, monkeypatch: Any) -> None:
    monkeypatch.setenv("MY_LLM_KEY", KEY)
    endpoint = services.save_endpoint(
        cast.owner,
        cast.project,
        name="env",
        base_url="https://api.example.com/v1",
        chat_model="gpt-x",
        api_key_env="MY_LLM_KEY",
    )
    assert endpoint.api_key_encrypted == ""
    assert endpoint.get_api_key() == KEY
    assert endpoint.key_display == "from $MY_LLM_KEY"


def test_only_one_endpoint_per_project_is_the_default(cast: Cast) -> None:
    first = services.save_endpoint(
        cast.owner, cast.project, name="a", base_url="http://a/v1", chat_model="m", is_default=True
    )
    services.save_endpoint(
        cast.owner, cast.project, name="b", base_url="http://b/v1", chat_model="m", is_default=True
    )
    first.refresh_from_db()
    assert not first.is_default
    assert ModelEndpoint.objects.get(name="b").is_default
