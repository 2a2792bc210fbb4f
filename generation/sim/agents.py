"""The agents of a simulation, their turns, and the conversation they make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KICKOFF = "Begin."  # the user turn an agent that speaks first answers, when nothing precedes


@dataclass(frozen=True)
class Agent:
    """One role-played participant.

    `role` is the run role (an endpoint through the run's role map) that speaks for it;
    `system` its system prompt (persona, rules); `state(conversation)` what it alone sees
    now, added to its system prompt at each of its turns (SPAG's secret word, Self-Talk's
    current workflow step); `as_role` the OpenAI role its turns take in the exported
    transcript; `options` sampling options for its turns (temperature, max_tokens, stop).
    """

    name: str
    role: str = "policy"
    system: str = ""
    state: Callable[[Conversation], str] | None = None
    as_role: str = "assistant"
    persona: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    kickoff: str = KICKOFF

    def system_prompt(self, conversation: Conversation) -> str:
        seen = self.state(conversation) if self.state is not None else ""
        return "\n\n".join(part for part in (self.system, seen) if part)


@dataclass(frozen=True)
class Turn:
    agent: str
    content: str
    role: str  # the run role that spoke
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    truncated: bool = False


@dataclass
class Conversation:
    """The turns so far, after an optional opening (messages every agent sees first)."""

    agents: list[Agent]
    opening: list[tuple[str, str]] = field(default_factory=list)  # (agent name, text)
    turns: list[Turn] = field(default_factory=list)
    stopped: str = ""  # why it ended: stop_token, empty_turn, max_turns, or a check's reason

    def agent(self, name: str) -> Agent:
        for a in self.agents:
            if a.name == name:
                return a
        raise KeyError(f"no agent {name!r}")

    def said(self) -> list[tuple[str, str]]:
        """(agent name, text) of the opening and every turn, in order."""
        return [*self.opening, *((t.agent, t.content) for t in self.turns)]

    def last(self, agent: str | None = None) -> Turn | None:
        for t in reversed(self.turns):
            if agent is None or t.agent == agent:
                return t
        return None

    def view(self, agent: Agent) -> list[dict[str, str]]:
        """What `agent` is sent for its next turn: its system prompt, its own turns as the
        assistant's and everyone else's as the user's (named when there are more than two
        agents); consecutive turns of one side are joined, and its view never opens with
        its own turn: where it spoke first, its kickoff comes first."""
        system = agent.system_prompt(self)
        named = len(self.agents) > 2
        out: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        for name, text in self.said():
            mine = name == agent.name
            role = "assistant" if mine else "user"
            content = text if mine or not named else f"{name}: {text}"
            if out and out[-1]["role"] == role:
                out[-1] = {"role": role, "content": f"{out[-1]['content']}\n\n{content}"}
            else:
                out.append({"role": role, "content": content})
        start = 1 if system else 0
        if len(out) > start and out[start]["role"] == "assistant":
            # It spoke first: its kickoff stays the first user message of every later view
            # (strict chat templates refuse a conversation that opens with the assistant).
            out.insert(start, {"role": "user", "content": agent.kickoff})
        if len(out) == start or out[-1]["role"] == "assistant":
            out.append({"role": "user", "content": agent.kickoff})
        return out

    def messages(self, system: str | None = None) -> list[dict[str, Any]]:
        """The transcript as OpenAI messages: each agent's turns in its `as_role`; the opening
        as user turns. Consecutive turns of one role are kept apart (reviewers see turns)."""
        head = [{"role": "system", "content": system}] if system else []
        body = [{"role": "user", "content": text} for _, text in self.opening]
        body += [{"role": self.agent(t.agent).as_role, "content": t.content} for t in self.turns]
        return [*head, *body]

    def lineage(self) -> list[dict[str, Any]]:
        """Per turn: the agent, the run role and model that spoke, and its tokens."""
        return [
            {
                "turn": i,
                "agent": t.agent,
                "role": t.role,
                "model": t.model,
                "tokens_in": t.tokens_in,
                "tokens_out": t.tokens_out,
                **({"truncated": True} if t.truncated else {}),
            }
            for i, t in enumerate(self.turns)
        ]

    def personas(self) -> dict[str, str]:
        return {a.name: a.persona or a.system for a in self.agents}
