"""APIGen-MT: each blueprint asks for one new reminder; the committee passes it; the simulated
user asks for it, the agent adds it with one tool call and tells the date; the user stops."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.generation.cases import Case, counter

PERSONAS = [
    {"name": "Mara", "persona": "A night-shift nurse who wants straight answers."},
    {"name": "Tomasz", "persona": "A retired engineer who reads the fine print."},
]
SEEDS = "\n".join(json.dumps(p) for p in PERSONAS).encode()
BLUEPRINT = r"You design tasks for training a phone assistant"
REVIEW = r"You review a task blueprint"
USER = r"You play a human user"
ASKED = r"^Please add the reminder '(.*)' for (\d{4}-\d{2}-\d{2})\."
DATE = "2027-01-05"
_TASK = re.compile(r"Your task \(only you know it\): You want the reminder '(.*)' on (\S+)\.")


def blueprint(content: str, date: str = DATE, name: str = "add_reminder") -> str:
    return json.dumps({
        "instruction": f"You want the reminder '{content}' on {date}.",
        "actions": [{"name": name, "arguments": {"content": content, "date": date}}],
        "outputs": [date],
    })  # fmt: skip


def user(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    if "\nAssistant:" in prompt:
        return "Thanks, that is all. ###STOP###"
    found = _TASK.search(prompt)
    return f"Please add the reminder '{found.group(1)}' for {found.group(2)}." if found else ""


def agent(body: dict[str, Any]) -> Any:
    if body["messages"][-1]["role"] == "tool":
        return f"Done: the reminder is set for {DATE}."
    content, date = re.match(ASKED, body["messages"][-1]["content"]).groups()  # type: ignore[union-attr]
    return {"content": None, "tool_calls": [
        {"name": "add_reminder", "arguments": {"content": content, "date": date}}]}  # fmt: skip


def script(fake: Any) -> None:
    n = counter()
    fake.script(BLUEPRINT, lambda _body: blueprint(f"call the bank {n()}"))
    fake.script(REVIEW, "The action does what the user asks.\nVerdict: pass")
    fake.script(USER, user)
    fake.script(ASKED, agent)


CASE = Case(script, {"committee": 3, "trials": 2}, SEEDS)
