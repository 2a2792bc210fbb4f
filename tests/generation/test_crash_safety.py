"""kill -9 a real Celery worker mid-run: the run still ends with exactly its target.

A real worker process (with embedded beat, so the stale-run sweeper is real too) drives
a run against the fake LLM over HTTP, using the test database and a broker database on
the same throw-away Postgres. We kill its whole process group with SIGKILL, start a new
worker, and check that no stored sample is lost and none is duplicated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery import Celery
from django.db import connection

from curation.samples.models import Sample
from generation.recipes.registry import get_recipe
from generation.runs.models import Run, RunItem, RunStatus

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def urls() -> dict[str, str]:
    s = connection.settings_dict
    host, port, user = s["HOST"], s["PORT"] or "5432", s["USER"]
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'test_broker'")
        if cur.fetchone() is None:
            cur.execute("CREATE DATABASE test_broker")
    return {
        "db": f"postgres://{user}@{quote(host, safe='')}:{port}/{s['NAME']}",
        "broker": f"sqla+postgresql+psycopg://{user}@/test_broker?host={host}&port={port}",
    }


def start_worker(urls: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "curation.settings",
        "SEEDBED_SKIP_ENV_FILE": "1",
        "DEBUG": "1",
        "SECRET_KEY": "crash-test-secret-key-0123456789",
        "DATABASE_URL": urls["db"],
        "CELERY_BROKER_URL": urls["broker"],
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SEEDBED_RUN_SLICE_SECONDS": "2",
        "SEEDBED_RUN_STALE_SECONDS": "3",
        "SEEDBED_RUN_GRACE_SECONDS": "1",
        "SEEDBED_SWEEP_SECONDS": "1",
        "SEEDBED_LLM_MAX_RETRIES": "2",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "curation",
                "worker",
                "-B",
                "-l",
                "info",
                "--concurrency",
                "1",
                "--schedule",
                str(log.parent / "beat-schedule"),
                "-n",
                f"crash{time.monotonic_ns()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=30)


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    bench: Any, fake_llm: Any, urls: dict[str, str], tmp_path: Path
) -> None:
    from tests.generation.conftest import varied_judge

    fake_llm.latency = 0.05
    fake_llm.script(r"additive 5-point", varied_judge)
    target = 60
    run = Run.objects.create(
        project=bench.project,
        recipe_id="self_rewarding",
        recipe_version=get_recipe("self_rewarding").version,
        seed_set=bench.seed_set,
        endpoint=bench.endpoint,
        target_count=target,
        params={"n_responses": 2, "judge_samples": 1},
    )
    Celery(broker=urls["broker"], set_as_current=False).send_task(
        "generation.runs.tasks.drive_run", args=[run.pk]
    )
    log = tmp_path / "worker.log"
    worker = start_worker(urls, log)
    try:
        wait_for(lambda: Run.objects.get(pk=run.pk).produced >= 15, 90, "15 samples")
        kill_group(worker)  # kill -9, mid-slice, with calls in flight
        before = set(Sample.objects.filter(run=run).values_list("id", flat=True))
        assert 15 <= len(before) < target, "the run should still have been going"
        assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING

        worker = start_worker(urls, log)
        wait_for(
            lambda: Run.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            120,
            "the run to finish after the restart",
        )
    finally:
        kill_group(worker, signal.SIGTERM)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, (run.last_error, log.read_text()[-3000:])
    samples = Sample.objects.filter(run=run)
    assert samples.count() == target == run.produced
    assert before <= set(samples.values_list("id", flat=True))  # nothing stored was lost
    keys = list(samples.values_list("work_key", flat=True))
    assert len(keys) == len(set(keys))  # nothing duplicated
    assert run.slices >= 2
    produced_items = RunItem.objects.filter(run=run, outcome="produced").count()
    assert produced_items == target  # every item that made a sample is recorded exactly once
