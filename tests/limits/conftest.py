"""The shared limiter's backends on the test session's Postgres and a throw-away Redis."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.multiworker.conftest import redis_url  # noqa: F401  (a fixture)

_endpoints = itertools.count(1_000_000)


@pytest.fixture
def endpoint_id() -> int:
    """A fresh endpoint id per test: the limiter's rows outlive test transactions."""
    return next(_endpoints)


@pytest.fixture(params=["postgres", "redis"])
def spec(request: Any) -> dict[str, Any]:
    """How to reach one shared backend, as JSON for a subprocess; a short TTL for the tests."""
    if request.param == "redis":
        return {"backend": "redis", "url": request.getfixturevalue("redis_url"), "ttl_s": 2.0}
    request.getfixturevalue("django_db_setup")
    from generation.limits import postgres_conninfo

    return {"backend": "postgres", "conninfo": postgres_conninfo(), "ttl_s": 2.0}
