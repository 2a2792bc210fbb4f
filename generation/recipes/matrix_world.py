"""MATRIX's small world, without the model: agents from personas, homophily groups, who
hears an action, and the scenarios an agent's round makes. Pure functions; no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from generation.recipes.base import SeedRow

GOAL_KEYS = ("life_goal", "goal", "goals", "aim", "aims")
ACTION_CHARS = 600  # of an agent's action kept (small models ramble)
_ACTION_LABEL = re.compile(r"^\s*\**\s*(?:my\s+)?(?:next\s+)?action\s*\**\s*:\s*", re.I)
_GOAL_LABEL = re.compile(r"^\s*\**\s*(?:life\s+)?goal\s*\**\s*:\s*", re.I)
_NOTIFY = re.compile(r"notify\s*\**\s*:\s*(.*)", re.I)
_NOBODY = re.compile(r"^\W*(?:nobody|no one|none)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Member:
    """One agent of a world: a persona's name, profile and (when it names one) goal."""

    index: int
    name: str
    profile: str
    goal: str
    seed_id: int


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value if isinstance(v, str | int | float) and str(v))
    return str(value).strip() if isinstance(value, str | int | float) else ""


def attribute_goal(attributes: dict[str, Any]) -> str:
    """A goal the persona's attributes already give (goal, goals, life_goal, aim…), or ""."""
    for key in GOAL_KEYS:
        if (goal := _flat(attributes.get(key))) != "":
            return goal
    return ""


def members(personas: Sequence[SeedRow]) -> list[Member]:
    """The agents: named as their personas (or "Agent n"); names made distinct."""
    out: list[Member] = []
    taken: set[str] = set()
    for i, seed in enumerate(personas):
        payload = seed.payload
        base = " ".join(str(payload.get("name") or "").split())[:40] or f"Agent {i + 1}"
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base} {n}", n + 1
        taken.add(name.lower())
        raw = payload.get("attributes")
        attributes: dict[str, Any] = raw if isinstance(raw, dict) else {}
        traits = [f"{k}: {_flat(v)}" for k, v in attributes.items() if k not in GOAL_KEYS]
        lines = [str(payload.get("description") or seed.text).strip(), *traits]
        profile = "\n".join(line for line in lines if line and not line.endswith(": "))
        out.append(Member(i, name, profile, attribute_goal(attributes), seed.id))
    return out


def clean_action(text: str) -> str:
    """An action as one short paragraph, without a leading "Action:" label or quotes."""
    text = " ".join(_ACTION_LABEL.sub("", text.strip()).split()).strip('"').strip()
    return text[:ACTION_CHARS].strip()


def clean_goal(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    return _GOAL_LABEL.sub("", line).strip().strip('"').strip()[:300]


# -- the modulator's grouping: homophily ----------------------------------------------------


def lexical_similarity(texts: Sequence[str]) -> list[list[float]]:
    """Jaccard overlap of word sets: the stand-in when no embedder can load."""
    sets = [set(_WORD.findall(t.lower())) for t in texts]
    return [[round(len(a & b) / len(a | b), 4) if a | b else 0.0 for b in sets] for a in sets]


def homophily_groups(sim: Sequence[Sequence[float]], size: int) -> list[list[int]]:
    """Agents grouped by profile similarity: the first ungrouped agent and its most similar
    ungrouped others make a group of `size`; a last agent left alone joins its most similar
    group. Deterministic (ties go to the lower index)."""
    left = list(range(len(sim)))
    groups: list[list[int]] = []
    while left:
        anchor = left.pop(0)
        nearest = sorted(left, key=lambda j: (-sim[anchor][j], j))[: max(0, size - 1)]
        groups.append(sorted([anchor, *nearest]))
        left = [j for j in left if j not in nearest]
    if len(groups) > 1 and len(groups[-1]) == 1:
        alone = groups.pop()[0]
        best = max(groups, key=lambda g: (sum(sim[alone][j] for j in g) / len(g), -g[0]))
        best.append(alone)
        best.sort()
    return groups


def group_of(groups: Sequence[Sequence[int]], i: int) -> int:
    return next(k for k, g in enumerate(groups) if i in g)


def nearest_outside(sim: Sequence[Sequence[float]], groups: Sequence[Sequence[int]], i: int) -> int:
    """The most similar agent of another group (-1 when there is one group)."""
    own = group_of(groups, i)
    others = [j for k, g in enumerate(groups) if k != own for j in g]
    return min(others, key=lambda j: (-sim[i][j], j)) if others else -1


def parse_recipients(text: str, names: Sequence[str], actor: str) -> list[str] | None:
    """Names the modulator picked (in the agents' order), [] for "nobody", None when its
    reply names no one it knows (the caller falls back)."""
    found = _NOTIFY.search(text)
    said = found.group(1) if found else text
    if _NOBODY.match(said):
        return []
    low = said.lower()
    firsts = [n.split()[0].lower() for n in names]
    # Full names, longest first, each blanked once found ("Ana 2" is not also "Ana"); then
    # first names no one else has ("Mara" for "Mara Okafor").
    forms = sorted(((n.lower(), n) for n in names), key=lambda f: -len(f[0]))
    forms += [(f, n) for n, f in zip(names, firsts, strict=True) if firsts.count(f) == 1]
    heard: set[str] = set()
    for form, name in forms:
        hit = re.search(rf"(?<![\w]){re.escape(form)}(?![\w])", low)
        if hit:
            heard.add(name)
            low = low[: hit.start()] + " " * len(form) + low[hit.end() :]
    picked = [n for n in names if n in heard and n != actor]
    return picked or None


# -- messages and scenarios -----------------------------------------------------------------


def message(
    round_: int, sender: Member, to: Member, groups: list[list[int]], text: str
) -> dict[str, Any]:
    """An action as one agent hears it from another: intra- or inter-group."""
    same = group_of(groups, sender.index) == group_of(groups, to.index)
    return {"round": round_, "from": sender.name, "to": to.name,
            "kind": "intra" if same else "inter", "text": text}  # fmt: skip


def scenario_text(
    sid: str, agent: Member, goal: str, round_: int, rounds: int,
    heard: Sequence[dict[str, Any]], action: str, told: Sequence[dict[str, Any]],
) -> str:  # fmt: skip
    """The scenario as people and the instruction writer read it."""
    lines = [f"Scenario {sid} (round {round_} of {rounds})",
             f"Person: {agent.name}", agent.profile, f"Goal: {goal}"]  # fmt: skip
    if heard:
        lines.append(f"What {agent.name} heard:")
        lines += [f'- {m["from"]}{" (another group)" if m["kind"] == "inter" else ""}: '
                  f'"{m["text"]}"' for m in heard]  # fmt: skip
    lines.append(f'What {agent.name} did: "{action}"')
    if told:
        heard_by = ", ".join(
            m["to"] + (" (another group)" if m["kind"] == "inter" else "") for m in told
        )
        lines.append(f"Who heard about it: {heard_by}")
    return "\n".join(line for line in lines if line)
