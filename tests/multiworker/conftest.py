"""A Redis for the session: Debian's redis-server on a free loopback port."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multiworker.redis_server import redis_binary, redis_server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server (apt-get install -y redis-server; make test installs it)")
    folder = Path(tempfile.mkdtemp(prefix="sbr-"))
    try:
        with redis_server(binary, folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# A project, seeds and an endpoint (max_concurrency=8) on the fake LLM, and the test
# database's URL for worker processes: as the generation tests and the crash test have them.
from tests.generation.conftest import bench  # noqa: E402, F401
from tests.generation.test_crash_safety import urls  # noqa: E402, F401
