"""I-SHEEP (#6): self-made tasks, rule filters, perplexity windows, two self-scores > 8."""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Judgement, Sample
from generation.llm import CapabilityError, EndpointConfig, LLMClient
from generation.recipes.base import SeedRow
from generation.recipes.i_sheep_parse import parse_pipe_score, parse_task
from generation.recipes.kit.item import Item
from generation.runs.models import RunItem, RunStatus
from tests.fakes.openai_server import prompt_tokens
from tests.generation.cases import words

# Ten new tasks with the self-scores the model gives them (quality, following). Only both
# ≥ 9 survive; the last one's input sits inside its instruction, so it never gets judged.
TASKS = [(f"Explain how {words(n)} relate.", "", scores) for n, scores in enumerate([
    (9, 9), (10, 9), (9, 10), (8, 9), (9, 8), (10, 10), (8, 8), (7, 10), (10, 2),
])] + [("Translate the greeting good morning into French.", "good morning", (10, 10))]  # fmt: skip
SURVIVORS = {TASKS[i][0] for i in (0, 1, 2, 5)}


def script(fake: Any, tasks: list[tuple[str, str, tuple[int, int]]]) -> None:
    """The n-th new task is tasks[n] (then nothing usable); judges score by the task."""
    served = iter(tasks)

    def new_task(body: dict[str, Any]) -> str:
        instruction, given, _ = next(served, ("", "", (0, 0)))
        return f"{instruction}\n4. Input:\n{given or '<noinput>'}" if instruction else ""

    def judge(which: int) -> Any:
        def reply(body: dict[str, Any]) -> str:
            text = body["messages"][-1]["content"]
            score = next(s for i, _, s in tasks if i in text)[which]
            return f"{score}||Reasons {which}." if which else f" {score} || Fine."

        return reply

    fake.script(r"Rate the quality of the response", judge(0))
    fake.script(r"Rate how well the response follows", judge(1))
    fake.script(r"Write task \d+: one new task", new_task)
    fake.script(r"^Explain how|^Translate", "They are linked by the seasons and the weather.")


def fake_ppl(text: str) -> float:
    """The perplexity the fake server's prompt logprobs give a text."""
    values = [lp for _, lp in prompt_tokens(text) if lp is not None]
    return math.exp(-sum(values) / len(values))


def kept(run: Any) -> set[str]:
    return {s.extra["metadata"]["instruction"] for s in Sample.objects.filter(run=run)}


def reasons(run: Any) -> list[str]:
    return list(
        RunItem.objects.filter(run=run, outcome="filtered").values_list("reason", flat=True)
    )


def test_the_self_score_is_read_from_score_pipes_explanation_and_nothing_else_counts() -> None:
    assert parse_pipe_score("9||Clear and correct.") == 9.0
    assert parse_pipe_score("<10> || Concise.") == 10.0
    assert parse_pipe_score("Score: 8.6 || rounds up, as the reference code does") == 9.0
    assert parse_pipe_score("9/10||ok") == 9.0
    assert parse_pipe_score("Rating (1-10): 7||meh") == 7.0
    assert parse_pipe_score("A fine answer||") is None
    assert parse_pipe_score("11||too high") is None
    assert parse_pipe_score("0||too low") is None


def test_a_new_task_is_read_whether_or_not_the_reply_repeats_the_labels() -> None:
    reply = " Write a haiku about rain.\n4. Input:\n<noinput>\n###\n5. Instruction: more"
    assert parse_task(reply) == ("Write a haiku about rain.", "")
    labelled = "**Instruction:** Classify the review.\n**Input:** Cold food.\n**Output:** bad"
    assert parse_task(labelled) == ("Classify the review.", "Cold food.")
    assert parse_task("   \n###\n") is None
    # seen on a 0.5B model: a second numbered input runs on after the first
    run_on = "Summarise it.\n1. Input: The library opens late.\n2. Input: Classify this."
    assert parse_task(run_on) == ("Summarise it.", "The library opens late.")


@pytest.mark.django_db(transaction=True)
def test_of_ten_scored_items_only_those_above_8_on_both_survive_and_an_input_inside_its_instruction_drops(  # noqa: E501
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, TASKS)
    run = bench.start("i_sheep", 10, params={"ppl_filter": "off"}, futility_limit=6)
    assert run.produced == 4
    assert kept(run) == SURVIVORS
    assert reasons(run).count("low_self_score") == 5
    assert reasons(run).count("input_in_instruction") == 1
    assert fake_llm.count(r"^Translate the greeting") == 0  # dropped before it was answered
    for sample in Sample.objects.filter(run=run):
        meta = sample.extra["metadata"]
        assert sample.judge_score == min(meta["quality"], meta["following"]) >= 9
        assert meta["ppl_filter"] == "off" and meta["perplexity"] is None
        assert sample.messages[0] == {"role": "user", "content": meta["instruction"]}
        assert Judgement.objects.filter(sample=sample).count() == 2
    # Three seed tasks per new task, shown as numbered instruction/input pairs, continued
    # as text (/v1/completions) after "4. Instruction:", up to the next "###".
    meta_prompt = next(r for r in fake_llm.requests if "Write task" in str(r.get("prompt")))
    assert "3. Input:" in meta_prompt["prompt"] and meta_prompt["stop"] == ["###"]
    assert meta_prompt["prompt"].rstrip().endswith("4. Instruction:")


@pytest.mark.django_db(transaction=True)
def test_where_the_endpoint_scores_text_the_perplexity_window_drops_what_lies_outside(
    bench: Any, fake_llm: Any
) -> None:
    tasks = [(f"Explain how {words(n + 40)} relate.", "", (10, 10)) for n in range(6)]
    ppl = {t: fake_ppl(t) for t, _, _ in tasks}
    ceiling = sorted(ppl.values())[2] + 1e-6  # the three most fluent pass
    script(fake_llm, tasks)
    params = {"prompt_ppl_min": 1.0, "prompt_ppl_max": ceiling, "output_ppl_max": 1000.0}
    run = bench.start("i_sheep", 6, params={**params, "output_ppl_min": 1.0}, futility_limit=4)
    assert kept(run) == {t for t, value in ppl.items() if value < ceiling}
    assert len(kept(run)) == 3 and reasons(run).count("ppl_window") == 3
    sample = Sample.objects.filter(run=run).first()
    meta = sample.extra["metadata"]
    assert meta["ppl_filter"] == "applied"
    assert meta["perplexity"]["prompt"] == pytest.approx(ppl[meta["instruction"]], abs=1e-3)
    output = sample.messages[-1]["content"]
    assert meta["perplexity"]["output"] == pytest.approx(fake_ppl(output), abs=1e-3)
    # The scoring calls are the item's calls: in its lineage and its tokens.
    ops = [c["op"] for c in sample.extra["lineage"]["calls"]]
    assert ops.count("score") == 2


@pytest.mark.django_db(transaction=True)
def test_where_the_endpoint_cannot_score_text_the_filter_is_skipped_and_counted(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.disable("prompt_logprobs")  # like llama.cpp: no echo, prompt_logprobs ignored
    script(fake_llm, [(f"Explain how {words(n + 60)} relate.", "", (10, 10)) for n in range(9)])
    run = bench.start("i_sheep", 3)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.produced == 3
    assert (
        "ppl_filter_skipped" not in run.filtered
        and run.state["kit"]["notes"]["ppl_filter_skipped"] >= 3
    )
    assert run.state["kit"]["no_plp"] == [f"e{bench.endpoint.pk}"]
    for sample in Sample.objects.filter(run=run):
        assert sample.extra["metadata"]["ppl_filter"] == "skipped"


@pytest.mark.django_db(transaction=True)
def test_a_required_filter_fails_on_an_endpoint_without_plp_and_is_refused_once_that_is_known(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.disable("prompt_logprobs")
    script(fake_llm, [(f"Explain how {words(n + 80)} relate.", "", (10, 10)) for n in range(30)])
    run = bench.start("i_sheep", 1, params={"ppl_filter": "on"})
    assert run.status == RunStatus.FAILED and run.produced == 0
    assert "logprobs of a given text" in run.last_error
    bench.endpoint.capabilities = {"prompt_logprobs": False}  # what Test connection finds
    bench.endpoint.save()
    with pytest.raises(ServiceError, match="needs PLP"):
        bench.start("i_sheep", 1, params={"ppl_filter": "on"})


# -- the kit's PLP step (it.score_text) --------------------------------------------------------


@dataclass
class Host:
    """The little of a slice that an Item talks to."""

    base_url: str
    run_id: int = 1
    target: int = 1
    seeds: list[SeedRow] = field(default_factory=list)
    prompts: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    pools: dict[str, Any] = field(default_factory=dict)
    admitted: list[Any] = field(default_factory=list)
    clients: list[LLMClient] = field(default_factory=list)

    def client(self, role: str) -> tuple[LLMClient, str, str]:
        if not self.clients:  # a new slice has a new client
            self.clients.append(LLMClient(EndpointConfig(self.base_url, model="fake-model")))
        return self.clients[0], "fake-model", "e1"

    def seed(self, seed_id: int) -> SeedRow:
        raise KeyError(seed_id)

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()
        self.clients.clear()


def test_a_scored_text_is_journaled_and_a_resumed_item_does_not_ask_again(fake_llm: Any) -> None:
    async def scenario() -> None:
        host = Host(fake_llm.base_url)
        first: Item[None] = Item(host, "k", None, None)
        scored = await first.score_text("The sky is", " blue today.")
        await host.close()
        asked = fake_llm.count()
        journal = json.loads(json.dumps(first.journal))  # as RunItem.checkpoint keeps it
        resumed: Item[None] = Item(host, "k", None, None, journal=journal)
        again = await resumed.score_text("The sky is", " blue today.")
        assert fake_llm.count() == asked
        assert again == scored and resumed.replayed == 1
        assert resumed.calls == first.calls and first.calls[0]["tokens_in"] > 0
        tail = [lp for _, lp in prompt_tokens("The sky is blue today.")[3:]]
        assert scored.count == len(tail) == 2
        assert scored.mean_logprob == pytest.approx(sum(tail) / 2)
        assert scored.perplexity == pytest.approx(math.exp(-sum(tail) / 2))

    asyncio.run(scenario())


def test_an_endpoint_that_cannot_score_is_remembered_and_later_items_do_not_ask(
    fake_llm: Any,
) -> None:
    fake_llm.disable("prompt_logprobs")

    async def scenario() -> None:
        host = Host(fake_llm.base_url)
        with pytest.raises(CapabilityError):
            await Item(host, "a", None, None).score_text("The sky is blue.")
        await host.close()
        asked = fake_llm.count()
        later: Item[None] = Item(host, "b", None, None)
        with pytest.raises(CapabilityError, match="an earlier item"):
            await later.score_text("The grass is green.")
        assert fake_llm.count() == asked and host.state["kit"]["no_plp"] == ["e1"]
        await host.close()

    asyncio.run(scenario())
