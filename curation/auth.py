"""API authentication: bearer tokens (hashed at rest) or the browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from curation.projects import throttle
from curation.projects.services import user_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = user_for_token(token)
        if user is not None:  # a valid token costs no throttle query
            request.user = user
            return user
        # Bad tokens count per address; past the limit the caller waits (429, Retry-After).
        # Tokens are 256-bit random, so letting a right one through meanwhile risks nothing.
        keys, policy = [throttle.token_key(request)], throttle.token_policy()
        wait = throttle.wait_seconds(keys, policy)
        if wait:
            # errors.py turns this into the Retry-After header.
            request.retry_after = wait  # type: ignore[attr-defined]
            raise HttpError(
                429, f"Too many bad API tokens from this address. Try again in {wait} s."
            )
        throttle.record_failure(keys, policy, what="API token")
        return None


# Tried in order: a token for scripts, the session (with CSRF) for the browser.
API_AUTH = [BearerToken(), django_auth]
