"""CAMEL (#14): a specified task, then an AI user instructing an AI assistant turn by turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.recipes.camel import Camel, Params
from generation.recipes.camel_rules import broken_rule, parse_role_pair, specified_task
from generation.recipes.registry import templates_of
from generation.runs.models import Run, RunItem, RunStatus
from generation.sim import Agent, Conversation, Turn
from tests.exports.helpers import export_now
from tests.exports.test_formats import check_trl, load

IDEA = "Develop a trading bot for the stock market"
SPECIFY = r"Rewrite the task so that it is concrete"
# Sixty words: the first two sentences (45 words) fit the limit of fifty, the third does not.
SENTENCES = (
    "Write a Python bot that watches the price of five technology stocks every minute and "
    "buys when the fast moving average crosses above the slow one.",
    "It keeps a log of every order in a CSV file and sends an email at noon.",
    "Finally it stops trading on any day when the portfolio has lost more than two percent.",
)
LONG_TASK, SHORT_TASK = " ".join(SENTENCES), " ".join(SENTENCES[:2])

Reply = Callable[[int], str]


def instruct(n: int) -> str:
    return f"Instruction: write part {n} of the bot.\nInput: None"


def solve(n: int) -> str:
    return f"Solution: here is part {n} of the bot. Next request."


def role_play(fake: Any, user: Reply = instruct, assistant: Reply = solve) -> None:
    """Each agent's n-th turn (counted from the turns it was shown as its own) from `user`
    or `assistant`; the inception prompt says which agent is asked. The specifier writes
    sixty words for IDEA, and asks for detail on other ideas."""

    def turn(body: dict[str, Any]) -> str:
        n = 1 + sum(m["role"] == "assistant" for m in body["messages"])
        is_user = "you always instruct me" in body["messages"][0]["content"]
        return user(n) if is_user else assistant(n)

    def specify(body: dict[str, Any]) -> str:
        idea = body["messages"][-1]["content"].split("with this task: ")[1].split("\n")[0]
        return LONG_TASK if idea == IDEA else f"{idea} Do it in detail."

    fake.script(SPECIFY, specify)
    fake.script(r".", turn)


def done_at(k: int) -> Reply:
    return lambda n: "<CAMEL_TASK_DONE>" if n == k else instruct(n)


def ideas(bench: Any, *texts: str) -> Any:
    data = "\n".join(json.dumps({"text": t}) for t in texts).encode()
    return import_seed_set(bench.owner, bench.project, name="Ideas", data=data)


def start(bench: Any, *texts: str, target: int = 1, **params: Any) -> Run:
    seed_set = ideas(bench, *(texts or (IDEA,)))
    return bench.start("camel", target, seed_set=seed_set, params=params)


def turns(sample: Sample) -> list[dict[str, Any]]:
    return [m for m in sample.messages if m["role"] != "system"]


@pytest.mark.django_db(transaction=True)
def test_a_programmer_and_a_trader_alternate_until_the_user_says_done_and_it_exports(
    bench: Any, fake_llm: Any, tmp_path: Path
) -> None:
    role_play(fake_llm, user=done_at(4))
    run = start(bench)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    meta = sample.extra["metadata"]
    # The specifier was asked with both roles and the idea, at temperature 1.0, and its
    # sixty words were cut to the whole sentences within fifty.
    asked = fake_llm.requests[0]
    prompt = asked["messages"][-1]["content"]
    assert "Python Programmer" in prompt and "Stock Trader" in prompt and IDEA in prompt
    assert "50 words" in prompt and asked["temperature"] == 1.0
    assert meta["specified_task"] == SHORT_TASK and len(SHORT_TASK.split()) <= 50
    assert meta["original_task"] == IDEA
    assert (meta["assistant_role"], meta["user_role"]) == ("Python Programmer", "Stock Trader")
    # Three instructions and three solutions, in turn; the done turn ends it and is not kept.
    assert turns(sample) == [
        m
        for n in (1, 2, 3)
        for m in ({"role": "user", "content": instruct(n)},
                  {"role": "assistant", "content": solve(n)})
    ]  # fmt: skip
    assert all(m["content"].startswith("Instruction:") for m in turns(sample)[::2])
    assert meta["termination_reason"] == "task_done" and sample.extra["stopped"] == "stop_token"
    assert meta["dropped_turns"] == [] and len(fake_llm.requests) == 1 + 7
    # The sample opens with the assistant's inception prompt, which holds the task; both
    # inception prompts are the personas.
    system = sample.messages[0]
    assert system["role"] == "system" and SHORT_TASK in system["content"]
    personas = sample.extra["personas"]
    assert "you are the Stock Trader" in personas["user"]
    assert "you are the Python Programmer" in personas["assistant"]
    assert [t["agent"] for t in sample.extra["turns"]] == ["user", "assistant"] * 3
    # The user spoke first, asked to start; the assistant saw the instruction as the user's.
    user_first, assistant_first = fake_llm.requests[1]["messages"], fake_llm.requests[2]["messages"]
    kickoff = templates_of("camel")["kickoff"].text.strip()
    assert user_first[-1] == {"role": "user", "content": kickoff}
    assert assistant_first[1:] == [{"role": "user", "content": instruct(1)}]
    assert run.state["kit"]["notes"]["sim_stop_token"] == 1
    # Exported as OpenAI messages, it loads with datasets and passes TRL's check.
    export = export_now(bench.owner, bench.project, format="openai",
                        filters={"statuses": ["pending"], "run_ids": [run.pk]})  # fmt: skip
    ds = load(export, tmp_path)
    assert len(ds) == 1 and ds[0]["messages"] == sample.messages
    check_trl("openai", ds)


@pytest.mark.django_db(transaction=True)
def test_a_user_who_never_says_done_is_cut_at_forty_messages(bench: Any, fake_llm: Any) -> None:
    role_play(fake_llm)
    run = start(bench)
    sample = Sample.objects.get(run=run)
    assert len(turns(sample)) == 40 and turns(sample)[-1] == {
        "role": "assistant",
        "content": solve(20),
    }
    assert sample.extra["metadata"]["termination_reason"] == "max_messages"
    assert len(fake_llm.requests) == 1 + 40


@pytest.mark.parametrize(
    ("user", "assistant", "reason", "kept", "dropped"),
    [
        # The user answers instead of instructing: a role flip; its turn is left out.
        (lambda n: "Solution: I did it." if n == 3 else instruct(n), solve,
         "user_no_instruct", 4, [("user", "user_no_instruct")]),
        # The assistant instructs the user: the flip and the unanswered instruction go.
        (instruct, lambda n: instruct(9) if n == 2 else solve(n),
         "assistant_instruct", 2, [("assistant", "assistant_instruct"), ("user", "unanswered")]),
        # The user asks the same thing again.
        (lambda n: instruct(min(n, 2)), solve, "repeated_turn", 4, [("user", "repeated_turn")]),
        # An empty turn ends it; there is nothing to leave out.
        (instruct, lambda n: "" if n == 3 else solve(n), "empty_turn", 4,
         [("user", "unanswered")]),
    ],
)  # fmt: skip
@pytest.mark.django_db(transaction=True)
def test_a_rule_break_ends_the_conversation_without_the_turn_that_broke_it(
    bench: Any,
    fake_llm: Any,
    user: Reply,
    assistant: Reply,
    reason: str,
    kept: int,
    dropped: list[tuple[str, str]],
) -> None:
    role_play(fake_llm, user, assistant)
    run = start(bench)
    sample = Sample.objects.get(run=run)
    meta = sample.extra["metadata"]
    assert meta["termination_reason"] == reason and len(turns(sample)) == kept
    assert [(d["agent"], d["why"]) for d in meta["dropped_turns"]] == dropped
    assert turns(sample)[-1]["role"] == "assistant"
    assert run.state["kit"]["notes"][f"sim_{reason}"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_flip_before_any_exchange_drops_the_conversation(bench: Any, fake_llm: Any) -> None:
    role_play(fake_llm, user=lambda n: "Sure, here is my answer.")
    run = start(bench)
    assert run.produced == 0 and run.filtered == {"too_short": 1}
    item = RunItem.objects.get(run=run)
    assert item.detail == "user_no_instruct" and item.raw_output == "Sure, here is my answer."


@pytest.mark.django_db(transaction=True)
def test_require_done_drops_a_conversation_the_cap_ended(bench: Any, fake_llm: Any) -> None:
    role_play(fake_llm)
    run = start(bench, require_done=True, max_messages=4)
    assert run.produced == 0 and run.filtered == {"not_done": 1}
    assert RunItem.objects.get(run=run).detail == "max_messages"


@pytest.mark.django_db(transaction=True)
def test_each_idea_is_played_by_each_role_pair(bench: Any, fake_llm: Any) -> None:
    role_play(fake_llm, user=done_at(2))
    pairs = ["Python Programmer | Stock Trader", "Chef | Food Blogger"]
    run = start(bench, "Idea one", "Idea two", target=4, role_pairs=pairs)
    assert run.produced == 4
    played = {
        (s.extra["metadata"]["original_task"], s.extra["metadata"]["assistant_role"])
        for s in Sample.objects.filter(run=run)
    }
    assert played == {
        (i, a) for i in ("Idea one", "Idea two") for a in ("Python Programmer", "Chef")
    }


def test_the_first_items_already_vary_the_role_pair() -> None:
    recipe = Camel()
    recipe.ideas = [SeedRow(i, "text", {"text": f"Idea {i}"}, f"Idea {i}") for i in (7, 8)]
    params = Params(role_pairs=["A | B", "C | D", "E | F"])
    keys = [key for key, _ in recipe.source(SimpleNamespace(params=params))]
    assert keys == ["camel:7:0", "camel:8:1", "camel:7:1", "camel:8:2", "camel:7:2", "camel:8:0"]


@pytest.mark.django_db(transaction=True)
def test_generated_roles_fit_each_idea_and_an_unreadable_pair_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"the sea\n.*Name two roles", "Assistant: Poet\nUser: Sailor")
    fake_llm.script(r"Name two roles", "I like both roles.")
    role_play(fake_llm, user=done_at(2))
    run = start(bench, "A poem about the sea", "A cake", target=2, generate_roles=True)
    sample = Sample.objects.get(run=run)
    meta = sample.extra["metadata"]
    assert (meta["assistant_role"], meta["user_role"], meta["roles_from"]) == (
        "Poet", "Sailor", "generated"
    )  # fmt: skip
    assert "you are the Sailor" in sample.extra["personas"]["user"]
    assert run.filtered == {"unparsable_roles": 1}


@pytest.mark.django_db(transaction=True)
def test_generated_task_lists_give_one_conversation_per_new_idea_without_seeds(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"List 3 varied tasks", "1. Build a price alert.\n2. Backtest a rule.\n"
                    "3. Chart a portfolio.\n4. One too many.")  # fmt: skip
    role_play(fake_llm, user=done_at(2))
    run = bench.start("camel", 3, seed_set=None, params={"tasks_per_pair": 3})
    assert run.status == RunStatus.COMPLETED, run.last_error
    metas = [s.extra["metadata"] for s in Sample.objects.filter(run=run)]
    assert sorted(m["original_task"] for m in metas) == [
        "Backtest a rule.", "Build a price alert.", "Chart a portfolio."
    ]  # fmt: skip
    assert {m["idea_from"] for m in metas} == {"generated"}
    assert all(s.seed_ids == [] for s in Sample.objects.filter(run=run))


@pytest.mark.django_db(transaction=True)
def test_a_run_is_refused_without_ideas_or_with_a_malformed_role_pair(bench: Any) -> None:
    with pytest.raises(ServiceError, match="needs task ideas"):
        bench.start("camel", 1, seed_set=None)
    with pytest.raises(ServiceError, match="assistant role \\| user role"):
        bench.start("camel", 1, params={"role_pairs": ["Just a Programmer"]})
    with pytest.raises(ServiceError, match="need the listed role pairs"):
        bench.start("camel", 1, params={"tasks_per_pair": 2, "generate_roles": True})


def test_the_specified_task_keeps_whole_sentences_within_the_word_limit() -> None:
    assert specified_task(f"Specified task: {LONG_TASK}", 50) == SHORT_TASK
    assert specified_task('"Plan a party."', 50) == "Plan a party."
    assert specified_task("One very long sentence without an end " * 9, 50) is None
    assert specified_task("Plan a party. And then cle", 50, truncated=True) == "Plan a party."


def test_role_pairs_are_read_from_lines_or_a_bar() -> None:
    assert parse_role_pair("**Assistant:** Poet\nUser role: Sailor.") == ("Poet", "Sailor")
    assert parse_role_pair("Poet | Sailor") == ("Poet", "Sailor")
    assert parse_role_pair("Assistant: Poet") is None


def _said(*texts: str, truncated: bool = False) -> tuple[Conversation, Turn]:
    agents = [Agent("user", as_role="user"), Agent("assistant")]
    conversation = Conversation(agents)
    for i, text in enumerate(texts):
        agent = ("user", "assistant")[i % 2]
        conversation.turns.append(Turn(agent, text, "policy", "m", truncated=truncated))
    return conversation, conversation.turns[-1]


def test_four_courtesies_in_a_row_or_a_cut_off_turn_end_it() -> None:
    polite = ["Instruction: say thanks.\nInput: None", "Solution: thank you. Next request."]
    assert broken_rule(*_said(*polite), "user") is None
    assert broken_rule(*_said(*polite, polite[0] + " Bye", polite[1] + "!"), "user") == (
        "courtesy_loop"
    )
    assert broken_rule(*_said("Instruction: go.", truncated=True), "user") == "token_limit"
    assert broken_rule(*_said("**Instruction:** go.\nInput: None"), "user") is None
