"""Sign-in throttling: bad passwords per user name and IP, bad API tokens per IP."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from curation.projects.models import SignInFailure
from curation.projects.services import issue_api_token
from curation.projects.throttle import Policy
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _small_limits(settings: Any) -> None:
    settings.SEEDBED_SIGNIN_FAILURES = 3
    settings.SEEDBED_TOKEN_FAILURES = 4


def sign_in(username: str, password: str, ip: str = "10.0.0.1") -> Any:
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": username, "password": password})


def age_failures(seconds: float) -> None:
    for row in SignInFailure.objects.all():
        row.last_at -= timedelta(seconds=seconds)
        row.save()


def test_after_too_many_bad_passwords_even_the_right_one_waits_and_is_told_how_long(
    caplog: Any,
) -> None:
    UserFactory(username="alice")
    with caplog.at_level(logging.WARNING, logger="seedbed.auth"):
        for _ in range(3):
            assert sign_in("alice", "wrong").status_code == 200

    refused = sign_in("alice", PASSWORD, ip="10.9.9.9")

    assert refused.status_code == 200  # the form again, not a redirect
    assert "Too many failed sign-ins" in refused.content.decode()
    assert "_auth_user_id" not in refused.client.session
    failed = [r.getMessage() for r in caplog.records if "failed password" in r.getMessage()]
    assert any("user:alice" in m and "(3 within" in m for m in failed)


def test_once_the_delay_has_passed_the_right_password_signs_in_and_clears_the_count() -> None:
    UserFactory(username="alice")
    for _ in range(3):
        sign_in("alice", "wrong")
    age_failures(5)

    response = sign_in("alice", PASSWORD)

    assert response.status_code == 302
    assert not SignInFailure.objects.filter(key="user:alice").exists()
    assert SignInFailure.objects.filter(key="ip:10.0.0.1").exists()  # the address keeps its count


def test_one_address_guessing_many_user_names_is_slowed_down_too() -> None:
    UserFactory(username="bob")
    for i in range(3):
        sign_in(f"nobody{i}", "guess", ip="10.6.6.6")

    from_there = sign_in("bob", PASSWORD, ip="10.6.6.6")
    from_elsewhere = sign_in("bob", PASSWORD, ip="10.0.0.2")

    assert "Too many failed sign-ins" in from_there.content.decode()
    assert from_elsewhere.status_code == 302


def test_a_refused_attempt_does_not_count_as_another_guess() -> None:
    UserFactory(username="alice")
    for _ in range(3):
        sign_in("alice", "wrong")

    for _ in range(3):
        sign_in("alice", "wrong")

    assert SignInFailure.objects.get(key="user:alice").count == 3


def test_the_delay_doubles_with_each_failure_up_to_its_maximum() -> None:
    policy = Policy(failures=3, window_s=900, max_delay_s=60)

    assert [policy.delay(n) for n in (2, 3, 4, 5, 9, 40)] == [0, 1, 2, 4, 60, 60]


def test_an_api_token_brute_force_gets_429_with_retry_after_from_that_address_only() -> None:
    user = UserFactory(username="carol")
    _, good = issue_api_token(user, "script")
    attacker = Client(REMOTE_ADDR="10.6.6.6")

    def guess(i: int, client: Client = attacker) -> Any:
        return client.get("/api/v1/projects", HTTP_AUTHORIZATION=f"Bearer sb_guess{i}")

    statuses = [guess(i).status_code for i in range(4)]
    blocked = guess(99)
    elsewhere = guess(5, Client(REMOTE_ADDR="10.0.0.3"))
    # A right token (256 random bits, not guessable) is let through, at no throttle query.
    good_there = attacker.get("/api/v1/projects", HTTP_AUTHORIZATION=f"Bearer {good}")

    assert statuses == [401, 401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.json()["detail"].startswith("Too many bad API tokens")
    assert int(blocked["Retry-After"]) >= 1
    assert elsewhere.status_code == 401
    assert good_there.status_code == 200


def test_behind_the_proxy_the_address_it_appended_is_the_one_counted(settings: Any) -> None:
    from curation.projects.throttle import client_ip

    settings.SEEDBED_CLIENT_IP_FROM_FORWARDED = True
    request = Client().get("/").wsgi_request
    request.META.update(REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")

    assert client_ip(request) == "203.0.113.9"
    settings.SEEDBED_CLIENT_IP_FROM_FORWARDED = False
    assert client_ip(request) == "10.0.0.254"
