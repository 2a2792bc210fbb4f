"""A CAMEL run of 3 conversations of up to 10 turns against the fake server at 1 s latency
with 2 s slices completes: every conversation is whole, none duplicated.

Each turn takes a second, so every slice ends mid-conversation; the next slice reads the
turns it has from the item's journal and asks only for the rest. Every reply says which
conversation and which turn it is, counted from the messages the agent was sent, so a
turn asked twice, skipped or replayed out of order shows in the stored transcript.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.projects.models import LLMCall
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.runs.models import RunItem, RunStatus

# The user's turn that says <CAMEL_TASK_DONE> per conversation (None: the cap of 10 ends it),
# and so the turns each keeps.
DONE_AT = {"A": 3, "B": None, "C": 5}
KEPT = {"A": 4, "B": 10, "C": 8}
MAX_MESSAGES = 10


def expected(name: str) -> list[dict[str, str]]:
    return [reply(name, turn) for turn in range(1, KEPT[name] + 1)]


def reply(name: str, turn: int) -> dict[str, str]:
    if turn % 2:
        return {"role": "user", "content": f"Instruction: {name} turn {turn}.\nInput: None"}
    return {"role": "assistant", "content": f"Solution: {name} turn {turn}. Next request."}


def script(fake: Any) -> None:
    def specify(body: dict[str, Any]) -> str:
        name = re.search(r"idea ([ABC])", body["messages"][-1]["content"]).group(1)  # type: ignore[union-attr]
        return f"Plan {name}: write a backtest for conversation {name}."

    def turn(body: dict[str, Any]) -> str:
        messages = body["messages"]
        name = re.search(r"conversation ([ABC])", messages[0]["content"]).group(1)  # type: ignore[union-attr]
        own = 1 + sum(m["role"] == "assistant" for m in messages)
        if "you always instruct me" in messages[0]["content"]:
            if own == DONE_AT[name]:
                return "<CAMEL_TASK_DONE>"
            return reply(name, 2 * own - 1)["content"]
        return reply(name, 2 * own)["content"]

    fake.script(r"Rewrite the task so that it is concrete", specify)
    fake.script(r".", turn)


@pytest.mark.django_db(transaction=True)
def test_three_conversations_in_2s_slices_at_1s_latency_are_whole_and_none_duplicated(
    bench: Any, fake_llm: Any, settings: Any
) -> None:
    settings.SEEDBED_RUN_SLICE_SECONDS = 2
    settings.SEEDBED_RUN_GRACE_SECONDS = 0
    fake_llm.latency = 1.0
    script(fake_llm)
    data = "\n".join(json.dumps({"text": f"Trading idea {n}"}) for n in DONE_AT).encode()
    seed_set = import_seed_set(bench.owner, bench.project, name="Ideas", data=data)
    run = bench.start("camel", 3, seed_set=seed_set, params={"max_messages": MAX_MESSAGES})
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    assert run.produced == 3 == len(samples)
    assert len({s.work_key for s in samples}) == 3
    by_name = {s.extra["metadata"]["original_task"][-1]: s for s in samples}
    assert sorted(by_name) == ["A", "B", "C"]
    for name, sample in by_name.items():
        turns = [m for m in sample.messages if m["role"] != "system"]
        assert turns == expected(name), name
        assert len(sample.extra["turns"]) == KEPT[name]
        reason = "max_messages" if DONE_AT[name] is None else "task_done"
        assert sample.extra["metadata"]["termination_reason"] == reason
    # No turn twice across the run, and no sample twice.
    contents = [m["content"] for s in samples for m in s.messages if m["role"] != "system"]
    assert len(contents) == len(set(contents)) == sum(KEPT.values())
    # It was cut into slices and the conversations resumed from their journals.
    assert run.slices > 1
    assert run.state["kit"]["replayed_steps"] > 0
    assert set(RunItem.objects.filter(run=run).values_list("outcome", flat=True)) == {"produced"}
    # One call per turn and specifier, plus at most the call in flight at each cut.
    needed = sum(1 + KEPT[n] + (DONE_AT[n] is not None) for n in DONE_AT)
    calls = LLMCall.objects.filter(run=run).count()
    assert needed <= calls <= needed + 3 * run.slices, (calls, run.slices)
