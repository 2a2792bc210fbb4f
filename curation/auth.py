"""API authentication: bearer tokens (hashed at rest) or the browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, django_auth

from curation.projects.services import user_for_token


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


# Tried in order: a token for scripts, the session (with CSRF) for the browser.
API_AUTH = [BearerToken(), django_auth]
