"""The kit's promises to every run: failed items retried, prompts pinned, new prompts filtered."""

from __future__ import annotations

from typing import Any

import pytest

from curation.samples.models import Sample
from generation.recipes.registry import get_recipe
from generation.runs import services
from generation.runs.driver import drive
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.conftest import varied_judge

pytestmark = pytest.mark.django_db(transaction=True)


def script(fake: Any) -> None:
    fake.script(r"additive 5-point", varied_judge)
    fake.script(r"Come up with a series of tasks", lambda body: f"Task {len(fake.requests)}?")


def test_an_item_that_failed_is_retried_on_the_next_slice(bench: Any, fake_llm: Any) -> None:
    script(fake_llm)
    # The seed "Convert the temperature..." fails twice: with one retry per call, its item
    # fails in the first slice; the run goes on and retries it in the next.
    fake_llm.fault("500", times=2, pattern=r"^Convert the temperature")
    run = bench.start("self_rewarding", 6, params={"generate_prompts": False})
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.produced == 6 and run.slices >= 2
    retried = RunItem.objects.get(run=run, attempts=1)
    assert retried.outcome == "produced" and run.failed == 1


def test_a_run_keeps_the_prompt_versions_it_started_with(bench: Any, fake_llm: Any) -> None:
    script(fake_llm)
    run = Run.objects.create(
        project=bench.project,
        recipe_id="self_rewarding",
        recipe_version=get_recipe("self_rewarding").version,
        seed_set=bench.seed_set,
        endpoint=bench.endpoint,
        target_count=2,
        state={"prompts": {"respond": "builtin:v1", "new_prompt": "builtin:v2"}},
    )
    # A newer project version of "respond" appears after the run started.
    services.save_prompt_override(
        bench.owner, bench.project, "self_rewarding", "respond", "NEWER {{prompt}}"
    )
    while drive(run.pk).again:
        pass
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert not any("NEWER" in str(r.get("messages")) for r in fake_llm.requests)
    assert set(Sample.objects.filter(run=run).values_list("prompt_version", flat=True)) == {
        "builtin:v1"
    }
    # A new run takes the newer version.
    assert services.start_run(
        bench.owner, bench.project, recipe_id="self_rewarding", endpoint=bench.endpoint,
        seed_set=bench.seed_set, target_count=1,
    ).state["prompts"]["respond"] == "project:p1"  # fmt: skip


def test_new_prompts_that_copy_a_seed_or_an_earlier_prompt_are_dropped(
    bench: Any, fake_llm: Any
) -> None:
    prompts = iter(
        ["Write a short poem about the sea.", "Name three rivers.", "Name three rivers."]
    )
    fake_llm.script(r"additive 5-point", varied_judge)
    fake_llm.script(r"Come up with a series of tasks", lambda body: next(prompts, "Name rivers."))
    run = bench.start("self_rewarding", 5, futility_limit=5)
    filtered = dict(
        RunItem.objects.filter(run=run, outcome="filtered").values_list("work_key", "reason")
    )
    assert list(filtered.values()).count("copies_seed_or_prompt") >= 2  # the seed; the repeat
    prompts_made = [s.messages[0]["content"] for s in Sample.objects.filter(run=run)]
    assert prompts_made == ["Name three rivers."]
