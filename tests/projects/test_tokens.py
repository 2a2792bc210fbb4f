"""API tokens: issued in the UI or by command, hashed at rest, revocable."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from curation.projects.models import ApiToken
from tests.cast import Cast

pytestmark = pytest.mark.django_db


def test_the_command_prints_a_token_that_only_its_hash_is_stored_for(cast: Cast) -> None:
    out = io.StringIO()
    call_command("create_api_token", cast.annotator.username, stdout=out)
    plain = out.getvalue().strip()
    token = ApiToken.objects.get(user=cast.annotator)
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in {token.token_hash, token.hint, token.name}
    response = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").get("/api/v1/me")
    assert response.json()["username"] == cast.annotator.username


def test_the_command_refuses_an_unknown_user(cast: Cast) -> None:
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "nobody")


def test_the_tokens_page_shows_a_new_token_once(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.viewer)
    body = client.post("/projects/tokens/", {"name": "laptop"}).content.decode()
    token = ApiToken.objects.get(user=cast.viewer)
    assert token.hint.rstrip("…") in body
    plain = body.split('id="new-token">')[1].split("<")[0]
    assert ApiToken.hash(plain) == token.token_hash
    assert plain not in client.get("/projects/tokens/").content.decode()


def test_a_revoked_token_no_longer_authenticates(cast: Cast, api_client_for: Any) -> None:
    client = api_client_for(cast.viewer)
    assert client.get("/api/v1/me").status_code == 200
    token = ApiToken.objects.get(user=cast.viewer)
    browser = Client()
    browser.force_login(cast.viewer)
    browser.post(f"/projects/tokens/{token.pk}/revoke/")
    assert client.get("/api/v1/me").status_code == 401


def test_nobody_can_revoke_another_users_token(cast: Cast, api_client_for: Any) -> None:
    client = api_client_for(cast.viewer)
    token = ApiToken.objects.get(user=cast.viewer)
    outsider = Client()
    outsider.force_login(cast.outsider)
    outsider.post(f"/projects/tokens/{token.pk}/revoke/")
    assert client.get("/api/v1/me").status_code == 200


def test_the_browser_session_also_works_for_the_api(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.owner)
    assert client.get(f"/api/v1/projects/{cast.project.pk}").json()["role"] == "owner"
