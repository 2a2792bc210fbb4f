"""APIGen-MT's domain: the phone world (generation/envs/phone.py) as a τ-bench-like domain.

What the recipe needs around the env: the domain policy an agent follows (and its
deterministic checks on a blueprint's ground-truth actions), a sampled start state, the
blueprint's parsing and format check, the state hash that decides a rollout, and the
expected-output check.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from generation.envs import phone
from generation.recipes.toolalpaca_react import first_object
from generation.tools import bfcl

POLICY = """\
You are the phone assistant of the phone's owner. Domain policy:
1. Act only on what the user asks; do not change settings or data they did not ask about.
2. Never guess a phone number: find it with search_contacts (or search_messages) first.
3. A message needs cellular service; cellular cannot be on in low battery mode, so turn
   low battery mode off first when the user wants a message sent.
4. Reminder dates are YYYY-MM-DD and never before today's date (get_current_date).
5. Do not repeat an action that already succeeded.
6. Tell the user the values they asked for (names, numbers, dates) exactly as the tools
   gave them."""

_PEOPLE = (
    "Ana Lima", "Ben Okafor", "Chen Wei", "Dara Singh", "Elif Kaya", "Femi Adeyemi",
    "Greta Holm", "Hugo Moreau", "Ines Costa", "Jonas Berg",
)  # fmt: skip
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def world_tools() -> list[dict[str, Any]]:
    """The phone world's tools (OpenAI schemas), without the env's `finish`."""
    return [schema for schema, _ in phone.TOOLS.values()]


def tools_text(tools: list[dict[str, Any]]) -> str:
    lines = []
    for tool in tools:
        fn = tool["function"]
        props = fn["parameters"]["properties"]
        args = ", ".join(f"{k}: {v.get('type', 'any')}" for k, v in props.items())
        lines.append(f"- {fn['name']}({args}): {fn['description']}")
    return "\n".join(lines)


def sample_state(rng: random.Random) -> dict[str, Any]:
    """A start state: 3-5 contacts, settings, two messages and a date, drawn by `rng`."""
    people = rng.sample(_PEOPLE, rng.randint(3, 5))
    contacts = [{"name": n, "phone": f"+1 555 01{i:02d}"} for i, n in enumerate(people, 11)]
    friend = contacts[rng.randrange(len(contacts))]
    low = rng.random() < 0.5
    return {
        "date": f"2026-12-{rng.randint(1, 20):02d}",
        "settings": {"wifi": rng.random() < 0.7, "cellular": not low and rng.random() < 0.5,
                     "low_battery_mode": low},
        "contacts": contacts,
        "messages": [
            {"to": friend["phone"], "from": "me", "content": "Are we still on for Friday?"},
            {"to": "me", "from": friend["phone"], "content": "Yes, 7 pm at the station."},
        ],
        "reminders": [],
    }  # fmt: skip


def state_hash(state: Any) -> str:
    """SHA-256 of the state's canonical JSON (keys sorted): equal states, equal hashes."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# -- the blueprint ---------------------------------------------------------------------


@dataclass(frozen=True)
class Blueprint:
    instruction: str
    actions: list[dict[str, Any]]  # {"name", "arguments"}
    outputs: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "actions": self.actions, "outputs": self.outputs}

    def shown(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1)


def parse_blueprint(text: str) -> Blueprint | None:
    """The first JSON object with an instruction and a list of actions; None if none."""
    raw = first_object(text)
    if raw is None:
        return None
    instruction = raw.get("instruction", raw.get("intent"))
    actions = raw.get("actions", raw.get("ground_truth_actions"))
    outputs = raw.get("outputs", raw.get("expected_outputs", []))
    if not isinstance(instruction, str) or not instruction.strip():
        return None
    if not isinstance(actions, list):
        return None
    if isinstance(outputs, str | int | float):
        outputs = [outputs]
    cleaned = [_action(a) for a in actions]
    return Blueprint(
        instruction.strip(),
        cleaned,
        [str(o).strip() for o in outputs if str(o).strip()] if isinstance(outputs, list) else [],
    )


def _action(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {"name": "", "arguments": None}
    args = raw.get("arguments", raw.get("kwargs", raw.get("parameters")))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            args = None
    return {"name": str(raw.get("name", "")).strip(), "arguments": args}


def format_problems(bp: Blueprint, tools: list[dict[str, Any]], most: int) -> list[str]:
    """CHECK format: 1..most actions, each a known tool with schema-valid arguments."""
    if not bp.actions:
        return ["the blueprint has no actions"]
    if len(bp.actions) > most:
        return [f"{len(bp.actions)} actions, more than {most}"]
    calls = [bfcl.Call(a["name"], a["arguments"] if isinstance(a["arguments"], dict) else None,
                       "" if isinstance(a["arguments"], dict) else "arguments are not an object")
             for a in bp.actions]  # fmt: skip
    verdict = bfcl.check(calls, tools, None)
    return [] if verdict.valid else list(verdict.reasons)


def _norm(text: str) -> str:
    return " ".join(str(text).split()).lower()


def policy_problems(bp: Blueprint, results: list[str], today: str) -> list[str]:
    """The policy rules a program can check, over the ground-truth actions and their results
    (rules 2, 4 and 5; rules 1, 3 and 6 are the committee's to judge)."""
    problems: list[str] = []
    seen: list[tuple[str, str]] = []
    for i, action in enumerate(bp.actions):
        name, args = action["name"], action["arguments"] or {}
        key = (name, json.dumps(args, sort_keys=True))
        if key in seen:
            problems.append(f"action {i + 1} repeats an earlier action ({name})")
        seen.append(key)
        earlier = _norm(" ".join(results[:i]))
        if name == "send_message" and _norm(args.get("phone_number", "")) not in earlier:
            problems.append(f"action {i + 1} messages a number no earlier result showed")
        if name == "add_reminder":
            date = str(args.get("date", ""))
            if not _DATE.fullmatch(date):
                problems.append(f"action {i + 1}: the reminder date is not YYYY-MM-DD")
            elif date < today:
                problems.append(f"action {i + 1}: the reminder date is before today ({today})")
    return problems


def ungrounded_outputs(bp: Blueprint, results: list[str], instruction: str = "") -> list[str]:
    """Expected outputs that no ground-truth result contains (they cannot be told)."""
    seen = _norm(" ".join(results) + " " + instruction)
    return [o for o in bp.outputs if _norm(o) not in seen]


def missing_outputs(outputs: list[str], replies: list[str]) -> list[str]:
    said = _norm(" ".join(replies))
    return [o for o in outputs if _norm(o) not in said]


def task_for(bp: Blueprint, state: dict[str, Any], changed: list[int]) -> dict[str, Any]:
    """The WorldEnv task: the start state, the instruction, and as milestones the
    ground-truth actions that changed the state (else the first action)."""
    picked = [bp.actions[i] for i in changed] or bp.actions[:1]
    milestones = [{"call": a["name"], "args": a["arguments"] or {}} for a in picked]
    return {"world": "phone", "state": state, "question": bp.instruction,
            "milestones": milestones, "minefields": []}  # fmt: skip
