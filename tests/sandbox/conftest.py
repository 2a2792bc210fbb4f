"""The sandbox under test, in each isolation mode this machine can give.

`isolation` runs a test twice: `auto` (namespaces where the kernel allows them, as in
production) and `guard` (the fallback every machine has). Where namespaces are not
available, both take the guard path, and the tests still assert real outcomes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generation import sandbox
from generation.sandbox import Limits, Result
from generation.sandbox.isolation import unshare

NORMAL = "def solve(a, b):\n    return a + b\n"
UID = 61000
CONCURRENCY = 3


@pytest.fixture(params=["auto", "guard"])
def isolation(request: Any, settings: Any) -> Iterator[str]:
    settings.SEEDBED_SANDBOX_ISOLATION = request.param
    settings.SEEDBED_SANDBOX_WARM = 1
    settings.SEEDBED_SANDBOX_CONCURRENCY = CONCURRENCY
    settings.SEEDBED_SANDBOX_UID = UID
    sandbox.reset()
    yield request.param
    sandbox.reset()


def namespaces_work() -> bool:
    """Asked of the kernel directly, not of the code under test: can we make the
    namespaces and mount a tmpfs in them?"""
    tool = unshare()
    if tool is None:
        return False
    argv = [tool, "--net", "--mount", "--pid", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        argv += ["--user", "--map-root-user"]
    argv += ["sh", "-c", "mount -t tmpfs none /tmp"]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def mode_in_use(isolation: str) -> str:
    if isolation == "guard":
        return "guard"
    return sandbox.sandbox().mode()  # auto: which one is test_isolation's to check


def alongside(code: str, inputs: Any = None, *, entry: str | None = None,
              limits: Limits | None = None) -> Result:  # fmt: skip
    """Run a (hostile) program with a normal one beside it and another right after it:
    both of those must work, whatever the first one did."""

    async def both() -> list[Result]:
        return await asyncio.gather(
            sandbox.run(code, inputs, entry=entry, limits=limits),
            sandbox.run(NORMAL, {"a": 2, "b": 3}, entry="solve"),
        )

    hostile, beside = asyncio.run(both())
    assert beside.ok and beside.value == 5, beside
    after = sandbox.run_sync(NORMAL, [1, 1], entry="solve")
    assert after.ok and after.value == 2, after
    return hostile


def processes_named(marker: str) -> list[int]:
    """Live processes whose name (comm) is `marker`."""
    found = []
    for status in Path("/proc").glob("[0-9]*/comm"):
        try:
            if status.read_text().strip() == marker:
                found.append(int(status.parent.name))
        except OSError:
            continue  # it ended while we looked
    return found
