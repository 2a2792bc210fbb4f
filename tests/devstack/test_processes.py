"""`make stop` stops what `make run` started, by pid file, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation import devstack


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(devstack, "RUN", tmp_path)
    monkeypatch.setattr(devstack, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(devstack, "STARTED", {})
    return tmp_path


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)", "seedbed-test-sleeper"]


def test_a_started_process_is_recorded_and_stopped_by_its_pid_file(run_dir: Path) -> None:
    devstack.start_process("sleeper", SLEEPER, dict(os.environ), marker="seedbed-test-sleeper")
    pid = devstack._alive_pid("sleeper")
    assert pid is not None
    devstack.stop_process("sleeper", timeout=10)
    assert not devstack._running(pid) or devstack.STARTED["sleeper"].poll() is not None
    assert not (run_dir / "sleeper.pid").exists()


def test_starting_twice_reuses_the_running_process(run_dir: Path) -> None:
    devstack.start_process("sleeper", SLEEPER, dict(os.environ), marker="seedbed-test-sleeper")
    first = devstack._alive_pid("sleeper")
    devstack.start_process("sleeper", SLEEPER, dict(os.environ), marker="seedbed-test-sleeper")
    assert devstack._alive_pid("sleeper") == first
    devstack.stop_process("sleeper", timeout=10)


def test_a_pid_file_naming_someone_elses_process_is_left_alone(run_dir: Path) -> None:
    # A stale pid file whose pid now belongs to an unrelated process (here: a sleeper
    # without our marker) must not be killed.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / "web.pid").write_text(f"{other.pid}\ngunicorn\n")
        devstack.stop_process("web", timeout=2)
        assert other.poll() is None
        assert not (run_dir / "web.pid").exists()
    finally:
        other.kill()
        other.wait()
