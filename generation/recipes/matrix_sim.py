"""MATRIX's simulation of one world: goals, homophily groups, rounds of actions routed by the
modulator, and the scenarios they leave.

Every model call and the embedding are journaled steps of the world's item (in a fixed
order: agents in index order within each round), so a world cut off by a slice resumes at
the step where it stopped, and a replayed world takes the same path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.recipes import kit
from generation.recipes import matrix_world as mw
from generation.recipes.base import SeedRow
from generation.recipes.kit import pools

SIMULATOR = "simulator"
FALLBACK_GOAL = "to make steady progress on what matters most to them this season"
NOTHING = "- nothing yet"
DONE_SHOWN = 2  # of an agent's own earlier actions, in its next prompt


@dataclass
class World:
    members: list[mw.Member]
    goals: list[str]
    groups: list[list[int]]
    grouping: str  # how profiles were compared: embedding:<model> or lexical
    rounds: int
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def names(self, group: Sequence[int]) -> list[str]:
        return [self.members[i].name for i in group]


def _similarities(texts: list[str]) -> tuple[str, list[list[float]]]:
    embedder = pools.local()  # the run's local embedder, as DEDUP-E reaches it
    vectors = embedder.encode(texts)
    return embedder.name, [[round(float(x), 4) for x in row] for row in vectors @ vectors.T]


async def grouping(it: kit.Item[Any], agents: list[mw.Member], size: int) -> dict[str, Any]:
    """One journaled step: the profiles' similarities and the groups they make."""

    async def compute() -> dict[str, Any]:
        texts = [a.profile for a in agents]
        try:
            model, sim = await asyncio.to_thread(_similarities, texts)
            method = f"embedding:{model}"
        except (ImportError, OSError):  # no local embedder: word overlap stands in
            sim, method = mw.lexical_similarity(texts), "lexical"
        return {"method": method, "similarity": sim, "groups": mw.homophily_groups(sim, size)}

    got = await it.compute("group", compute)
    if got["method"] == "lexical":
        it.note("grouping_by_word_overlap")
    return got


async def goal_of(it: kit.Item[Any], agent: mw.Member) -> str:
    if agent.goal:
        return agent.goal
    made = await it.gen("goal", role=SIMULATOR, name=agent.name, profile=agent.profile,
                        temperature=it.params.temperature, max_tokens=96)  # fmt: skip
    goal = mw.clean_goal(made.text)
    if not goal:
        it.note("goal_fallback")
    return goal or FALLBACK_GOAL


def _lines(messages: Sequence[dict[str, Any]]) -> str:
    return "\n".join(f'- {m["from"]}: "{m["text"]}"' for m in messages) or NOTHING


async def act(
    it: kit.Item[Any], world: World, agent: mw.Member, round_: int,
    heard: list[dict[str, Any]], done: list[str],
) -> str:  # fmt: skip
    p = it.params
    made = await it.gen(
        "act", role=SIMULATOR, name=agent.name, profile=agent.profile,
        goal=world.goals[agent.index], round=str(round_), rounds=str(p.rounds),
        done="\n".join(f"- {d}" for d in done[-DONE_SHOWN:]) or NOTHING, heard=_lines(heard),
        temperature=p.temperature, max_tokens=p.action_tokens,
    )  # fmt: skip
    action = mw.clean_action(made.text)
    if not action:
        it.count("empty_action")
    return action


async def recipients(
    it: kit.Item[Any], world: World, sim: list[list[float]], agent: mw.Member, action: str
) -> list[mw.Member]:
    """Who hears an action: the modulator's pick (llm), or the agent's group and its most
    similar agent elsewhere (rule)."""
    k = mw.group_of(world.groups, agent.index)
    own = [i for i in world.groups[k] if i != agent.index]
    if it.params.modulator == "rule":
        outside = mw.nearest_outside(sim, world.groups, agent.index)
        return [world.members[i] for i in sorted([*own, *([outside] if outside >= 0 else [])])]
    others = "; ".join(
        f"group {g + 1}: {', '.join(world.names(grp))}"
        for g, grp in enumerate(world.groups) if g != k
    ) or "none"  # fmt: skip
    made = await it.gen(
        "route", role=SIMULATOR, group=str(k + 1), members=", ".join(world.names(world.groups[k])),
        others=others, actor=agent.name, action=action, temperature=0.0, max_tokens=64,
    )  # fmt: skip
    everyone = [m.name for m in world.members]
    picked = mw.parse_recipients(made.text, everyone, agent.name)
    if picked is None:  # a reply that names no one: the group hears it
        it.note("route_fallback")
        return [world.members[i] for i in own]
    return [m for m in world.members if m.name in picked]


async def simulate(it: kit.Item[Any], personas: list[SeedRow], world_id: str) -> World:
    """N agents × R rounds; one scenario per agent and round in which it acted."""
    p = it.params
    agents = mw.members(personas)
    goals = await asyncio.gather(*(goal_of(it, a) for a in agents))
    grouped = await grouping(it, agents, p.group_size)
    world = World(agents, list(goals), grouped["groups"], grouped["method"], p.rounds)
    sim: list[list[float]] = grouped["similarity"]
    inbox: dict[str, list[dict[str, Any]]] = {a.name: [] for a in agents}
    done: dict[str, list[str]] = {a.name: [] for a in agents}
    for r in range(1, p.rounds + 1):
        heard = {a.name: inbox[a.name][-p.memory :] if p.memory else [] for a in agents}
        actions = await asyncio.gather(
            *(act(it, world, a, r, heard[a.name], done[a.name]) for a in agents)
        )
        acting = [(a, text) for a, text in zip(agents, actions, strict=True) if text]
        routed = await asyncio.gather(*(recipients(it, world, sim, a, t) for a, t in acting))
        inbox = {a.name: [] for a in agents}
        for (agent, action), to in zip(acting, routed, strict=True):
            done[agent.name].append(action)
            told = [mw.message(r, agent, m, world.groups, action) for m in to]
            for m in told:
                inbox[m["to"]].append(m)
            world.messages += told
            world.scenarios.append(scenario(world, world_id, agent, r, heard[agent.name], action,
                                            told))  # fmt: skip
    return world


def scenario(
    world: World, world_id: str, agent: mw.Member, round_: int,
    heard: list[dict[str, Any]], action: str, told: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """One agent's round as a logged scenario: its id, the agents involved, the messages."""
    sid = f"{world_id}.r{round_}.a{agent.index + 1}"
    involved = {agent.name, *(m["from"] for m in heard), *(m["to"] for m in told)}
    by_name = {m.name: m for m in world.members}
    goal = world.goals[agent.index]
    return {
        "id": sid, "world": world_id, "round": round_, "agent": agent.name,
        "group": mw.group_of(world.groups, agent.index) + 1,
        "agents": [m.name for m in world.members if m.name in involved],
        "goal": goal, "action": action, "heard": heard, "told": told,
        "groups": [world.names(g) for g in world.groups], "grouping": world.grouping,
        "text": mw.scenario_text(sid, agent, goal, round_, world.rounds, heard, action, told),
        "seed_ids": sorted(by_name[n].seed_id for n in involved),
    }  # fmt: skip
