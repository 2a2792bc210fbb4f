"""A small phone world for the Python state env: contacts, messages, reminders, settings.

Our own world in the spirit of ToolSandbox's: tools read and change one state, and some
depend on others' effects: a message needs cellular service, which cannot be turned on in
low battery mode. The code is ours (trusted) and pure: every tool takes the state and its
arguments and returns a JSON result, or raises WorldError with a message the agent sees.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from generation.envs.base import tool


class WorldError(Exception):
    pass


State = dict[str, Any]

DEFAULT_STATE: State = {
    "date": "2026-12-01",
    "settings": {"wifi": True, "cellular": False, "low_battery_mode": True},
    "contacts": [
        {"name": "Ana Lima", "phone": "+1 555 0101"},
        {"name": "Ben Okafor", "phone": "+1 555 0102"},
        {"name": "Chen Wei", "phone": "+1 555 0103"},
    ],
    "messages": [
        {"to": "+1 555 0102", "from": "me", "content": "See you at 6?"},
        {"to": "me", "from": "+1 555 0102", "content": "Yes, at the cafe."},
    ],
    "reminders": [],
}
SETTINGS = ("wifi", "cellular", "low_battery_mode")


def initial(overrides: dict[str, Any] | None = None) -> State:
    state = copy.deepcopy(DEFAULT_STATE)
    for key, value in (overrides or {}).items():
        if key == "settings" and isinstance(value, dict):
            state["settings"].update({k: bool(v) for k, v in value.items() if k in SETTINGS})
        elif key in state:
            state[key] = copy.deepcopy(value)
    return state


def search_contacts(state: State, name: str) -> list[dict[str, str]]:
    words = name.lower().split()
    return [c for c in state["contacts"] if all(w in c["name"].lower() for w in words)]


def add_contact(state: State, name: str, phone: str) -> dict[str, str]:
    if any(c["phone"] == phone for c in state["contacts"]):
        raise WorldError(f"a contact with phone {phone} exists already")
    contact = {"name": name.strip(), "phone": phone.strip()}
    state["contacts"].append(contact)
    return contact


def send_message(state: State, phone_number: str, content: str) -> dict[str, str]:
    if not state["settings"]["cellular"]:
        raise WorldError("no cellular service: turn cellular on first")
    if not content.strip():
        raise WorldError("a message needs some content")
    message = {"to": phone_number.strip(), "from": "me", "content": content}
    state["messages"].append(message)
    return {"sent": "yes", **message}


def search_messages(state: State, query: str) -> list[dict[str, str]]:
    q = query.lower()
    return [m for m in state["messages"] if q in m["content"].lower() or q in m["to"] + m["from"]]


def get_setting(state: State, name: str) -> dict[str, Any]:
    if name not in SETTINGS:
        raise WorldError(f"unknown setting {name!r}; settings: {', '.join(SETTINGS)}")
    return {name: state["settings"][name]}


def set_setting(state: State, name: str, value: bool) -> dict[str, Any]:
    if name not in SETTINGS:
        raise WorldError(f"unknown setting {name!r}; settings: {', '.join(SETTINGS)}")
    if not isinstance(value, bool):
        raise WorldError("value must be true or false")
    if name == "cellular" and value and state["settings"]["low_battery_mode"]:
        raise WorldError("cellular cannot be turned on in low battery mode")
    state["settings"][name] = value
    if name == "low_battery_mode" and value:
        state["settings"]["cellular"] = False
    return {name: value}


def add_reminder(state: State, content: str, date: str) -> dict[str, str]:
    reminder = {"content": content, "date": date}
    state["reminders"].append(reminder)
    return reminder


def get_current_date(state: State) -> dict[str, str]:
    return {"date": state["date"]}


_S = {"type": "string"}
TOOLS: dict[str, tuple[dict[str, Any], Callable[..., Any]]] = {
    "search_contacts": (tool("search_contacts", "Find contacts whose name has these words.",
                             name=_S), search_contacts),
    "add_contact": (tool("add_contact", "Add a contact.", name=_S, phone=_S), add_contact),
    "send_message": (tool("send_message", "Send a text message to a phone number.",
                          phone_number=_S, content=_S), send_message),
    "search_messages": (tool("search_messages", "Find messages containing the text.",
                             query=_S), search_messages),
    "get_setting": (tool("get_setting", "Read a setting: wifi, cellular or low_battery_mode.",
                         name=_S), get_setting),
    "set_setting": (tool("set_setting", "Change a setting: wifi, cellular or low_battery_mode.",
                         name=_S, value={"type": "boolean"}), set_setting),
    "add_reminder": (tool("add_reminder", "Add a reminder for a date (YYYY-MM-DD).",
                          content=_S, date=_S), add_reminder),
    "get_current_date": (tool("get_current_date", "Today's date."), get_current_date),
}  # fmt: skip
