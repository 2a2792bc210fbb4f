"""The SIM loop: whose turn it is, one journaled GEN per turn, and when to stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from generation.sim.agents import Agent, Conversation, Turn

if TYPE_CHECKING:
    from generation.recipes.kit.item import Item

Check = Callable[[Conversation, Turn], Awaitable[str | None]]
Order = Callable[[Conversation], str | None]
MAX_TURNS = 100  # a hard cap whatever a recipe asks: one item, one conversation


def alternate(agents: Sequence[Agent]) -> Order:
    """The agents in turn, in the order given."""
    names = [a.name for a in agents]

    def next_speaker(conversation: Conversation) -> str:
        return names[len(conversation.turns) % len(names)]

    return next_speaker


async def simulate(
    it: Item[Any],
    agents: Sequence[Agent],
    *,
    opening: Sequence[tuple[str, str]] = (),
    order: Order | None = None,
    max_turns: int = 10,
    stop_tokens: Sequence[str] = (),
    check: Check | None = None,
) -> Conversation:
    """Run the conversation to a stop condition; `order` returns the next agent's name (None
    ends it). Every turn is an `it.gen` step, so a resumed item replays the turns it has."""
    if len({a.name for a in agents}) != len(agents) or not agents:
        raise ValueError("agents need distinct names")
    conversation = Conversation(list(agents), list(opening))
    pick = order or alternate(agents)
    cap = min(max_turns, MAX_TURNS)
    while True:
        if len(conversation.turns) >= cap:
            conversation.stopped = "max_turns"
            break
        name = pick(conversation)
        if name is None:
            conversation.stopped = "order_ended"
            break
        agent = conversation.agent(name)
        got = await it.gen(messages=conversation.view(agent), role=agent.role, **agent.options)
        call = it.calls[-1] if it.calls else {}
        text, found = strip_stops(got.text, stop_tokens)
        turn = Turn(
            agent=name,
            content=text,
            role=agent.role,
            model=got.model,
            tokens_in=int(call.get("tokens_in", 0)),
            tokens_out=int(call.get("tokens_out", 0)),
            truncated=got.truncated,
        )
        if text:
            conversation.turns.append(turn)
        if found:
            conversation.stopped = "stop_token"
            break
        if not text:
            conversation.stopped = "empty_turn"
            break
        if check is not None and (reason := await check(conversation, turn)):
            conversation.stopped = reason
            break
    it.note(f"sim_{conversation.stopped}")
    return conversation


def strip_stops(text: str, stop_tokens: Sequence[str]) -> tuple[str, bool]:
    """The turn without its stop tokens, and whether it had one."""
    found = False
    for token in stop_tokens:
        if token and token in text:
            found = True
            text = text.replace(token, "")
    return text.strip(), found
