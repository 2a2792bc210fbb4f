"""The ENV step inside a run: a 30-step episode at 1 s a step, in 2 s slices, completes
whole and once: every action ran exactly once, and the state survived every resume."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from curation.samples.models import Sample
from generation.envs import WorldEnv
from generation.recipes import kit
from generation.recipes.base import RecipeParams, Step
from generation.recipes.kit import fmt
from generation.recipes.kit.recipe import _REGISTRY
from generation.runs.models import RunStatus

STEPS = 30
LIVE: Counter[str] = Counter()  # env actions that really ran (not read back from a journal)


class CountingWorld(WorldEnv):
    async def act(self, name: str, arguments: dict[str, Any]) -> Any:
        LIVE[arguments.get("content", name)] += 1
        return await super().act(name, arguments)


class Probe(kit.Recipe[RecipeParams]):
    """A test-only recipe: one agent turn (a model call) per env step."""

    Params = RecipeParams
    meta = kit.Meta(
        id="env_probe", name="ENV probe", entry="B99", version="1", output="tool_trajectory",
        section="beyond", summary="test only", inputs=frozenset({"instruction"}),
        roles=(kit.POLICY,),
    )  # fmt: skip
    steps: ClassVar[tuple[Step, ...]] = (Step("ENV", "episode", "30 reminders"),)

    def source(self, run: Any) -> Any:
        return kit.Source.numbered("probe")

    async def make(self, it: kit.Item[RecipeParams]) -> kit.Out:
        last = {"state": f"reminders.{STEPS - 1}.content", "equals": f"r{STEPS - 1}"}
        task = {"world": "phone", "question": "Add 30 reminders.", "milestones": [last]}
        episode = await it.env(CountingWorld(), task)
        for n in range(STEPS):
            await it.gen(messages=[{"role": "user", "content": f"step {n}: {episode.observation}"}])
            await episode.step("add_reminder", {"content": f"r{n}", "date": "2026-12-02"})
        await episode.step("finish", {"answer": "done"})
        verdict = await episode.check()
        it.check(verdict.success, "episode_failed", "; ".join(verdict.reasons))
        messages = [{"role": "user", "content": task["question"]}]
        return fmt.tool_trajectory(messages, episode.tools(), step="episode",
                                   extra={"metadata": {"steps": len(episode.steps)}})  # fmt: skip


@pytest.fixture
def probe() -> Iterator[None]:
    kit.register(Probe)
    LIVE.clear()
    try:
        yield
    finally:
        _REGISTRY.pop(("env_probe", "1"), None)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_thirty_step_episode_at_one_second_a_step_in_two_second_slices_completes_once(
    bench: Any, fake_llm: Any, settings: Any, probe: None
) -> None:
    settings.SEEDBED_RUN_SLICE_SECONDS = 2
    settings.SEEDBED_RUN_GRACE_SECONDS = 3  # the call in flight at a cut finishes in it
    fake_llm.latency = 1.0

    run = bench.start("env_probe", 1)

    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.slices >= 10  # about 31 s of calls in 2 s slices
    assert run.state["kit"]["replayed_steps"] > 0  # it did resume mid-episode
    assert Sample.objects.filter(run=run).count() == 1
    # Whole: the env reached step 30 with every reminder (the checker's milestone held).
    # Once: each action ran exactly one time across all the slices.
    assert Counter({f"r{n}": 1 for n in range(STEPS)}) == LIVE
    # And no call was paid twice: past a slice's end the item stops before its next step,
    # so the call in flight finishes and is journaled, and none is cut off and re-sent.
    asked = [r["messages"][0]["content"].split(":")[0] for r in fake_llm.requests]
    assert asked == [f"step {n}" for n in range(STEPS)]
