"""The end of a slice against a slow endpoint: calls in flight finish and are kept (never
cut off and paid again), items stop at their next step, and the lease stays alive."""

from __future__ import annotations

import time
from typing import Any

import pytest

from curation.projects.models import LLMCall
from generation.recipes.registry import get_recipe
from generation.runs import driver
from generation.runs.driver import drive
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.test_kit_runs import script

pytestmark = pytest.mark.django_db(transaction=True)


def test_calls_that_outlast_the_slice_finish_are_journaled_and_the_heartbeat_goes_on(
    bench: Any, fake_llm: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    script(fake_llm)
    settings.SEEDBED_RUN_SLICE_SECONDS = 0.3
    settings.SEEDBED_RUN_GRACE_SECONDS = 30
    monkeypatch.setattr(driver, "HEARTBEAT_EVERY_S", 0.3)
    beats: list[float] = []

    def beat(run_id: int, token: str) -> None:
        beats.append(time.monotonic())
        real_beat(run_id, token)

    real_beat = driver.beat
    monkeypatch.setattr(driver, "beat", beat)
    fake_llm.latency = 2.0
    run = Run.objects.create(
        project=bench.project, recipe_id="self_rewarding",
        recipe_version=get_recipe("self_rewarding").version, seed_set=bench.seed_set,
        endpoint=bench.endpoint, target_count=3, params={"generate_prompts": False},
    )  # fmt: skip

    started = time.monotonic()
    outcome = drive(run.pk)  # one slice
    took = time.monotonic() - started
    run.refresh_from_db()

    assert outcome.again and run.status == RunStatus.RUNNING
    assert 1.9 < took < 10  # it waited for the calls in flight, not for the 30 s grace
    sent = len(fake_llm.requests)
    assert sent > 0 and LLMCall.objects.filter(run=run).count() == sent
    assert not LLMCall.objects.filter(run=run, status=LLMCall.Status.ERROR).exists()
    journals = [i.checkpoint for i in RunItem.objects.filter(run=run) if i.checkpoint]
    assert journals and all(len(j) >= 1 for j in journals)  # the finished calls were kept
    # While every item waited on its call, nothing was committed, yet the heartbeat went on.
    assert len(beats) >= 3 and beats[-1] - beats[0] >= 0.6
