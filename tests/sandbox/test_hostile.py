"""Hostile programs: each ends as a clear result of its own, and the sandbox goes on.

Every test runs the hostile program with a normal program beside it and another right
after it (`alongside`), and checks the outcome from outside the sandbox too: files that
must not exist, a listening port that must see no connection, processes that must be gone.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from generation.sandbox import Limits
from tests.sandbox.conftest import CONCURRENCY, UID, alongside, mode_in_use, processes_named

pytestmark = pytest.mark.usefixtures("isolation")

BOMB = """
import os
try:
    import ctypes
    ctypes.CDLL(None).prctl(15, inputs.encode(), 0, 0, 0)  # PR_SET_NAME: findable outside
except Exception:
    pass  # the guard refuses ctypes; it refuses fork too
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def test_a_fork_bomb_is_stopped_by_the_wall_clock_and_every_process_dies(
    isolation: str,
) -> None:
    marker = f"bomb{uuid.uuid4().hex[:8]}"
    result = alongside(BOMB, marker, limits=Limits(wall_s=2))
    assert not result.ok and result.limit == "timeout", result
    assert result.elapsed_s < 2 + 3
    assert processes_named(marker) == []
    if os.geteuid() == 0 and mode_in_use(isolation) == "namespace":
        owners = {p.stat().st_uid for p in Path("/proc").glob("[0-9]*") if p.exists()}
        assert not owners & set(range(UID, UID + CONCURRENCY))


SLEEPERS = """
import os, time
def solve(marker):
    import ctypes
    ctypes.CDLL(None).prctl(15, marker.encode(), 0, 0, 0)
    started = 0
    for _ in range(500):
        try:
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        except OSError:
            break
        started += 1
    return started
"""


def test_processes_are_capped_and_those_left_behind_are_killed(isolation: str) -> None:
    marker = f"kids{uuid.uuid4().hex[:8]}"
    result = alongside(SLEEPERS, [marker], entry="solve", limits=Limits(procs=8))
    if mode_in_use(isolation) == "namespace":
        assert result.ok, result
        assert 0 < result.value < 8  # RLIMIT_NPROC stopped it, not the loop's 500
    else:
        assert result.exc_type == "PermissionError", result  # the guard refuses ctypes
    assert result.elapsed_s < 10  # the sleepers did not hold the call for their 60 s
    assert processes_named(marker) == []


def test_an_endless_loop_is_stopped_by_the_cpu_limit() -> None:
    result = alongside("while True:\n    pass\n", limits=Limits(cpu_s=1, wall_s=10))
    assert not result.ok and result.limit == "cpu", result
    assert result.exit_status is not None and result.exit_status < 0  # killed by a signal
    assert result.cpu_s is not None and result.cpu_s >= 0.9


def test_a_sleeping_program_is_stopped_by_the_wall_clock() -> None:
    result = alongside("import time\ntime.sleep(60)\n", limits=Limits(wall_s=1))
    assert not result.ok and result.limit == "timeout", result
    assert 1 <= result.wall_s < 3


def test_a_10_gb_allocation_fails_with_the_memory_limit() -> None:
    result = alongside("x = bytearray(10 * 1024 ** 3)\n", limits=Limits(memory_mb=256))
    assert not result.ok and result.limit == "memory", result
    assert result.exc_type == "MemoryError"
    assert "bytearray" in result.traceback
    fits = alongside("x = bytearray(64 * 1024 ** 2)\n", limits=Limits(memory_mb=256))
    assert fits.ok, fits  # the limit refused it, not a sandbox that cannot allocate at all


WRITER = """
def solve(paths):
    done = {}
    for path in paths:
        try:
            with open(path, "w") as f:
                f.write("written from the sandbox")
            done[path] = "written"
        except OSError as exc:
            done[path] = type(exc).__name__
    return done
"""


def test_writing_outside_the_work_dir_fails_and_leaves_no_file(isolation: str) -> None:
    tag = uuid.uuid4().hex
    outside = [
        Path(tempfile.gettempdir()) / f"outside-{tag}",
        Path(settings.BASE_DIR) / f"outside-{tag}.txt",
        Path("/etc") / f"outside-{tag}",
    ]
    paths = [str(p) for p in outside] + [f"../outside-{tag}", "inside.txt"]
    result = alongside(WRITER, [paths], entry="solve")
    assert result.ok, result
    assert result.value["inside.txt"] == "written"  # its own work dir is writable
    for path in paths[:-1]:
        assert result.value[path] != "written", (path, result.value)
    for path in [*outside, Path(tempfile.gettempdir()) / f"outside-{tag}"]:
        assert not path.exists()


READER = """
import os
def solve(paths):
    seen = {}
    os.symlink(paths[0], "link")  # a link in its own work dir to the secret
    for path in [*paths, "link"]:
        try:
            with open(path) as f:
                seen[path] = f.read()
        except OSError as exc:
            seen[path] = type(exc).__name__
    return seen
"""


def test_reading_a_secret_or_the_projects_env_fails() -> None:
    secret_dir = Path(tempfile.mkdtemp(prefix="sandbox-secret-"))
    try:
        secret_dir.chmod(0o755)  # readable by anyone: only the sandbox stands in the way
        secret = secret_dir / "secret.txt"
        token = uuid.uuid4().hex
        secret.write_text(token)
        secret.chmod(0o644)
        paths = [str(secret), str(Path(settings.BASE_DIR) / ".env"), "/proc/1/environ"]
        result = alongside(READER, [paths], entry="solve")
        assert result.ok, result
        for path, got in result.value.items():
            assert got in {"FileNotFoundError", "PermissionError", "OSError"}, (path, got)
        assert token not in json.dumps(result.to_json())
    finally:
        secret.unlink()
        secret_dir.rmdir()


def test_the_program_inherits_no_environment() -> None:
    os.environ["SEEDBED_TEST_SECRET"] = "do-not-leak"
    try:
        result = alongside("import os\ndef solve():\n    return dict(os.environ)\n", entry="solve")
    finally:
        del os.environ["SEEDBED_TEST_SECRET"]
    assert result.ok, result
    assert set(result.value) <= {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR"}
    assert "do-not-leak" not in json.dumps(result.value)


IMPORTER = """
import sys
def solve(dirs):
    sys.path.extend(dirs)
    got = {}
    for name in ("requests", "django", "httpx"):
        try:
            __import__(name)
            got[name] = "imported"
        except ImportError as exc:
            got[name] = type(exc).__name__
    return got
"""


def test_importing_requests_or_any_installed_package_fails() -> None:
    import site
    import sys

    # Where the packages are, to the worker's own Python: the sandbox is told too.
    dirs = [*site.getsitepackages(), f"{sys.base_prefix}/lib/python3.11/site-packages"]
    assert any((Path(d) / "django").is_dir() for d in dirs)  # the test means something
    plain = alongside("import requests\n")
    assert plain.exc_type == "ModuleNotFoundError", plain
    result = alongside(IMPORTER, [dirs], entry="solve")
    assert result.ok, result
    assert set(result.value.values()) <= {"ModuleNotFoundError", "ImportError"}, result.value


NETWORK = """
import socket, urllib.request
def solve(port):
    tried = {}
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
        tried["socket"] = "connected"
    except OSError as exc:
        tried["socket"] = type(exc).__name__
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
        tried["urllib"] = "fetched"
    except OSError as exc:
        tried["urllib"] = type(exc).__name__
    return tried
"""


def test_a_connection_to_a_listening_loopback_port_fails_from_inside() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        port = server.getsockname()[1]
        result = alongside(NETWORK, [port], entry="solve")
        assert result.ok, result
        assert result.value["socket"] in {"OSError", "PermissionError"}, result.value
        assert result.value["urllib"] == "URLError", result.value
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing got through
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # while from outside the port is there
