"""SIM: agents take turns, each turn a journaled GEN; stop tokens, caps, hooks, resumption."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from generation.llm import EndpointConfig, LLMClient
from generation.recipes.kit import fmt
from generation.recipes.kit.item import Drop, Item
from generation.sim import Agent, Conversation, Turn

DONE = "<CAMEL_TASK_DONE>"


class Host:
    """What an item needs from its slice, with every role on one fake endpoint."""

    def __init__(self, llm: LLMClient) -> None:
        self.llm, self.run_id, self.target, self.seeds, self.prompts = llm, 1, 1, [], {}
        self.state: dict[str, Any] = {}
        self.pools: dict[str, Any] = {}
        self.admitted: list[Any] = []

    def client(self, role: str) -> tuple[LLMClient, str, str]:
        return self.llm, f"model-of-{role}", "e1"

    def seed(self, seed_id: int) -> Any:
        raise KeyError(seed_id)

    async def in_db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)


def talk(fake: Any, agents: list[Agent], journal: list[dict[str, Any]] | None = None,
         **kwargs: Any) -> tuple[Conversation, Item[Any]]:  # fmt: skip
    async def go() -> tuple[Conversation, Item[Any]]:
        async with LLMClient(EndpointConfig(base_url=fake.base_url, max_retries=1)) as llm:
            it: Item[Any] = Item(Host(llm), "k", None, None, journal=journal)
            return await it.sim(agents, **kwargs), it

    return asyncio.run(go())


def numbered(body: dict[str, Any]) -> str:
    """Each agent says which turn it is, from how many of its own turns it was shown."""
    mine = sum(m["role"] == "assistant" for m in body["messages"])
    who = re.search(r"You are (\w+)", body["messages"][0]["content"]).group(1)  # type: ignore[union-attr]
    return f"{who} turn {mine + 1}"


USER = Agent("user", role="user_agent", system="You are User.", as_role="user")
HELPER = Agent("assistant", system="You are Helper.")


def test_two_agents_alternate_and_each_sees_its_own_turns_as_the_assistant(fake_llm: Any) -> None:
    fake_llm.script(r".", numbered)
    conversation, it = talk(fake_llm, [USER, HELPER], max_turns=4)
    assert [t.content for t in conversation.turns] == [
        "User turn 1", "Helper turn 1", "User turn 2", "Helper turn 2"
    ]  # fmt: skip
    assert conversation.stopped == "max_turns"
    first, last = fake_llm.requests[0]["messages"], fake_llm.requests[-1]["messages"]
    assert first == [{"role": "system", "content": "You are User."},
                     {"role": "user", "content": "Begin."}]  # fmt: skip
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert last[1]["content"] == "User turn 1" and last[2]["content"] == "Helper turn 1"
    # The user spoke first: its later views still open with its kickoff, not its own turn.
    user_again = fake_llm.requests[2]["messages"]
    assert [m["role"] for m in user_again] == ["system", "user", "assistant", "user"]
    assert user_again[1]["content"] == "Begin." and user_again[2]["content"] == "User turn 1"
    assert [r["model"] for r in fake_llm.requests] == ["model-of-user_agent", "model-of-policy"] * 2
    assert conversation.messages() == [
        {"role": "user", "content": "User turn 1"},
        {"role": "assistant", "content": "Helper turn 1"},
        {"role": "user", "content": "User turn 2"},
        {"role": "assistant", "content": "Helper turn 2"},
    ]
    lineage = conversation.lineage()
    assert [t["model"] for t in lineage] == ["model-of-user_agent", "model-of-policy"] * 2
    assert all(t["tokens_out"] > 0 for t in lineage) and len(it.journal) == 4


def test_a_stop_token_ends_the_conversation_and_is_not_kept(fake_llm: Any) -> None:
    replies = iter(["Instruction: add 2 and 2.", "Solution: 4. Next request.", f"Thanks. {DONE}"])
    fake_llm.script(r".", lambda body: next(replies))
    conversation, _ = talk(fake_llm, [USER, HELPER], max_turns=40, stop_tokens=[DONE])
    assert conversation.stopped == "stop_token"
    assert [t.content for t in conversation.turns][-1] == "Thanks."
    assert len(fake_llm.requests) == 3


def test_a_rule_hook_stops_or_drops_the_conversation(fake_llm: Any) -> None:
    fake_llm.script(r".", numbered)

    async def second_helper_turn(conversation: Conversation, turn: Turn) -> str | None:
        return "enough" if turn.content == "Helper turn 2" else None

    conversation, _ = talk(fake_llm, [USER, HELPER], max_turns=10, check=second_helper_turn)
    assert (conversation.stopped, len(conversation.turns)) == ("enough", 4)

    async def rule_break(conversation: Conversation, turn: Turn) -> str | None:
        raise Drop("rule_break", turn.content)

    with pytest.raises(Drop, match="rule_break"):
        talk(fake_llm, [USER, HELPER], check=rule_break)


def test_an_empty_turn_ends_it(fake_llm: Any) -> None:
    replies = iter(["Hello.", "   "])
    fake_llm.script(r".", lambda body: next(replies))
    conversation, _ = talk(fake_llm, [USER, HELPER])
    assert conversation.stopped == "empty_turn" and len(conversation.turns) == 1


def test_only_its_agent_sees_a_state_and_others_are_named_when_there_are_three(
    fake_llm: Any,
) -> None:
    fake_llm.script(r".", numbered)
    secret = Agent("attacker", system="You are Attacker.", state=lambda c: "The word is: apple.")
    judge = Agent("host", system="You are Host.")
    conversation, _ = talk(fake_llm, [secret, HELPER, judge], max_turns=3)
    systems = [r["messages"][0]["content"] for r in fake_llm.requests]
    assert systems[0] == "You are Attacker.\n\nThe word is: apple."
    assert all("apple" not in s for s in systems[1:])
    host_sees = fake_llm.requests[2]["messages"]
    assert host_sees[1] == {
        "role": "user",
        "content": "attacker: Attacker turn 1\n\nassistant: Helper turn 1",
    }
    assert conversation.personas()["attacker"] == "You are Attacker."


def test_a_resumed_conversation_asks_only_for_the_turns_it_lacks(fake_llm: Any) -> None:
    fake_llm.script(r".", numbered)
    whole, it = talk(fake_llm, [USER, HELPER], max_turns=6)
    asked = len(fake_llm.requests)
    cut = it.journal[:4]  # the slice ended after four turns
    resumed, again = talk(fake_llm, [USER, HELPER], journal=cut, max_turns=6)
    assert len(fake_llm.requests) - asked == 2 and again.replayed == 4
    assert resumed.messages() == whole.messages()
    assert [t["tokens_out"] for t in resumed.lineage()] == [
        t["tokens_out"] for t in whole.lineage()
    ]


def test_a_conversation_becomes_a_sample_with_its_turns_lineage(fake_llm: Any) -> None:
    fake_llm.script(r".", numbered)
    conversation, _ = talk(fake_llm, [USER, HELPER], max_turns=2)
    piece = fmt.dialogue(conversation, system="Be kind.")
    assert piece.kind == "conversation" and piece.messages[0] == {
        "role": "system",
        "content": "Be kind.",
    }
    assert [t["agent"] for t in piece.extra["turns"]] == ["user", "assistant"]
    assert piece.extra["stopped"] == "max_turns" and set(piece.extra["personas"]) == {
        "user",
        "assistant",
    }


def test_agents_need_distinct_names(fake_llm: Any) -> None:
    with pytest.raises(ValueError, match="distinct"):
        talk(fake_llm, [USER, USER])
