"""Two real Celery workers on one endpoint, with Redis as the broker.

Each worker is a separate process (tests/generation/test_crash_safety.py's start_worker),
so only a limiter shared across processes keeps the endpoint's max_concurrency=8: the fake
server counts the requests in flight. Then one worker is killed with SIGKILL mid-run and
the other finishes both runs with nothing lost and nothing duplicated.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from curation.samples.models import Sample
from generation.recipes.registry import get_recipe
from generation.runs.models import Run, RunStatus
from tests.generation.test_crash_safety import kill_group, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
TARGET = 24
DEADLINE_S = 150  # about 15-30 s each on an idle 2-core machine; far longer under load


@pytest.fixture
def worker_urls(urls: dict[str, str], redis_url: str, monkeypatch: Any) -> dict[str, str]:
    # Short leases, so a killed worker's slots come back within the test (once wired).
    monkeypatch.setenv("SEEDBED_LIMITS_TTL_S", "3")
    return {**urls, "broker": redis_url}


def start_runs(bench: Any, fake_llm: Any, broker: str, count: int) -> list[Run]:
    from tests.generation.conftest import varied_judge

    fake_llm.script(r"additive 5-point", varied_judge)
    runs = [
        Run.objects.create(
            project=bench.project,
            recipe_id="self_rewarding",
            recipe_version=get_recipe("self_rewarding").version,
            seed_set=bench.seed_set,
            endpoint=bench.endpoint,
            target_count=TARGET,
            params={"n_responses": 2, "judge_samples": 1},
        )
        for _ in range(count)
    ]
    app = Celery(broker=broker, set_as_current=False)
    for run in runs:
        app.send_task("generation.runs.tasks.drive_run", args=[run.pk])
    return runs


def log_for(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name / "worker.log"  # its own folder: each beat has its own schedule


def finished(runs: list[Run]) -> bool:
    going = [RunStatus.QUEUED, RunStatus.RUNNING]
    return not Run.objects.filter(pk__in=[r.pk for r in runs], status__in=going).exists()


def assert_complete_and_unique(run: Run, logs: list[Path]) -> None:
    run.refresh_from_db()
    tails = [log.read_text()[-1500:] for log in logs]
    assert run.status == RunStatus.COMPLETED, (run.last_error, tails)
    samples = Sample.objects.filter(run=run)
    assert samples.count() == TARGET == run.produced
    keys = list(samples.values_list("work_key", flat=True))
    assert len(keys) == len(set(keys))  # nothing duplicated


def test_two_workers_never_send_an_endpoint_more_than_its_max_concurrency(
    bench: Any, fake_llm: Any, worker_urls: dict[str, str], tmp_path: Path
) -> None:
    fake_llm.latency = 0.2  # long enough that each worker keeps its 8 slots busy
    assert bench.endpoint.max_concurrency == 8
    runs = start_runs(bench, fake_llm, worker_urls["broker"], 2)
    logs = [log_for(tmp_path, "a"), log_for(tmp_path, "b")]
    workers = [start_worker(worker_urls, log) for log in logs]
    try:
        wait_for(lambda: finished(runs), DEADLINE_S, "both runs to finish")
    finally:
        for worker in workers:
            kill_group(worker, signal.SIGTERM)

    for run in runs:
        assert_complete_and_unique(run, logs)
    assert fake_llm.max_in_flight <= 8, f"{fake_llm.max_in_flight} requests in flight at once"


def test_a_worker_killed_mid_run_leaves_the_other_to_finish_with_nothing_lost(
    bench: Any, fake_llm: Any, worker_urls: dict[str, str], tmp_path: Path
) -> None:
    fake_llm.latency = 0.05
    runs = start_runs(bench, fake_llm, worker_urls["broker"], 2)
    logs = [log_for(tmp_path, "a"), log_for(tmp_path, "b")]
    survivor, victim = (start_worker(worker_urls, log) for log in logs)
    try:
        wait_for(
            lambda: all(r.produced >= 5 for r in Run.objects.filter(pk__in=[r.pk for r in runs])),
            DEADLINE_S,
            "both runs under way",
        )
        kill_group(victim)  # kill -9, mid-slice, with calls in flight
        before = set(Sample.objects.filter(run__in=runs).values_list("id", flat=True))
        assert Run.objects.filter(pk__in=[r.pk for r in runs], status=RunStatus.RUNNING).exists()
        wait_for(lambda: finished(runs), DEADLINE_S, "the survivor to finish both runs")
    finally:
        kill_group(survivor, signal.SIGTERM)
        kill_group(victim)

    for run in runs:
        assert_complete_and_unique(run, logs)
    after = set(Sample.objects.filter(run__in=runs).values_list("id", flat=True))
    assert before <= after  # nothing stored was lost
