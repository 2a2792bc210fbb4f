"""PC Agent-E's action space as text, and the accessibility trees the actions point into.

An observation is a small indented tree, one element a line:
    button "Rename" [5] (600, 40, 660, 70)
role, quoted name, [id] and optional bounds (x1, y1, x2, y2). An action is one call:
click(x, y) or click([id]) (and double_click, right_click), drag(x1, y1, x2, y2),
type("text"), press("enter"), hotkey("ctrl", "s"), scroll(dx, dy), wait(), finish(), fail().
The parser also reads the paper's spellings ("click (x, y)", "press key: enter",
"type text: hi", "scroll (-3)"). Everything parsed here is untrusted model or seed text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

GRAMMAR = """\
click(x, y) or click([id])          click a point on the screen, or an element by its id
double_click(x, y) or double_click([id])
right_click(x, y) or right_click([id])
drag(x1, y1, x2, y2)                drag from one point to another
type("text")                        type into the focused field
press("key")                        press one key, e.g. press("enter")
hotkey("ctrl", "s")                 press keys together (2 to 4 keys)
scroll(dx, dy)                      scroll by pixels; dy > 0 up, dy < 0 down
wait()                              wait for the screen to change
finish()                            the task is done
fail()                              the task cannot be done"""

POINTING = frozenset({"click", "double_click", "right_click"})
# Pressed alone these change nothing on the screen (the paper drops lone ctrl/shift/caps lock).
LONE_NO_OPS = frozenset({"ctrl", "shift", "alt", "capslock", "fn"})
_KEYS = (
    "enter tab space backspace delete esc up down left right home end pageup pagedown insert "
    "ctrl shift alt win cmd option fn capslock printscreen menu"
).split()
KEYS = frozenset(
    [*_KEYS, *(chr(c) for c in range(ord("a"), ord("z") + 1)), *"0123456789"]
    + [f"f{i}" for i in range(1, 25)]
    + list("`-=[]\\;',./+*")
)
_KEY_ALIASES = {
    "control": "ctrl", "return": "enter", "escape": "esc", "del": "delete", "meta": "win",
    "windows": "win", "super": "win", "command": "cmd", "caps_lock": "capslock",
    "pgup": "pageup", "pgdn": "pagedown", "page_up": "pageup", "page_down": "pagedown",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "spacebar": "space", "bksp": "backspace",
}  # fmt: skip
_NAME_ALIASES = {
    "left_click": "click", "tap": "click", "doubleclick": "double_click",
    "rightclick": "right_click", "type_text": "type", "write": "type", "input": "type",
    "press_key": "press", "key": "press", "keypress": "press", "hot_key": "hotkey",
    "done": "finish", "scroll_by": "scroll", "drag_from": "drag",
}  # fmt: skip
_ARITY = {"wait": 0, "finish": 0, "fail": 0}


# -- observations -------------------------------------------------------------------------

_ELEMENT = re.compile(
    r'^(?P<indent>\s*)(?P<role>[^\s"\[]+)\s*(?:"(?P<name>(?:[^"\\]|\\.)*)")?\s*'
    r"\[(?P<id>[\w.:-]+)\]"
    r"(?:\s*\(\s*(?P<x1>\d+)\s*,\s*(?P<y1>\d+)\s*,\s*(?P<x2>\d+)\s*,\s*(?P<y2>\d+)\s*\))?"
)


@dataclass(frozen=True)
class Element:
    id: str
    role: str
    name: str
    depth: int
    bounds: tuple[int, int, int, int] | None = None

    def label(self) -> str:
        return f'{self.role} "{self.name}" [{self.id}]' if self.name else f"{self.role} [{self.id}]"

    def contains(self, x: int, y: int) -> bool:
        if self.bounds is None:
            return False
        x1, y1, x2, y2 = self.bounds
        return x1 <= x <= x2 and y1 <= y <= y2


@dataclass(frozen=True)
class Screen:
    """One step's observation: its tree's elements (by id) and the screen's size."""

    text: str
    width: int
    height: int
    elements: dict[str, Element] = field(default_factory=dict)

    @classmethod
    def read(cls, text: str, width: int, height: int) -> Screen:
        elements: dict[str, Element] = {}
        for line in text.splitlines():
            m = _ELEMENT.match(line)
            if m is None or m["id"] in elements:
                continue  # free text (a focus note, a status line), or a repeated id
            box = None
            if m["x1"] is not None:
                box = (int(m["x1"]), int(m["y1"]), int(m["x2"]), int(m["y2"]))
            name = (m["name"] or "").replace('\\"', '"')
            elements[m["id"]] = Element(m["id"], m["role"], name, len(m["indent"]), box)
        return cls(text, width, height, elements)

    def at(self, x: int, y: int) -> Element | None:
        """The deepest element whose bounds hold the point (the one a click lands on)."""
        hits = [e for e in self.elements.values() if e.contains(x, y)]
        return max(hits, key=lambda e: e.depth, default=None)


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    name: str
    arguments: dict[str, Any]

    def text(self) -> str:
        """The canonical spelling, the one training samples carry."""
        a = self.arguments
        if self.name in POINTING:
            inner = f"[{a['element']}]" if "element" in a else f"{a['x']}, {a['y']}"
        elif self.name == "drag":
            inner = f"{a['x1']}, {a['y1']}, {a['x2']}, {a['y2']}"
        elif self.name == "type":
            inner = json.dumps(a["text"], ensure_ascii=False)
        elif self.name == "press":
            inner = json.dumps(a["key"])
        elif self.name == "hotkey":
            inner = ", ".join(json.dumps(k) for k in a["keys"])
        elif self.name == "scroll":
            inner = f"{a['dx']}, {a['dy']}"
        else:
            inner = ""
        return f"{self.name}({inner})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": dict(self.arguments)}


class ActionError(ValueError):
    """Why an action does not parse or does not fit its step; `reason` is a filter name."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


_CALL = re.compile(r"^\s*([A-Za-z][\w -]*?)\s*\((.*)\)\s*$", re.S)
_COLON = re.compile(
    r"^\s*(?:(type text|press key)\s*:?|(type|press|hotkey)\s*:)\s*(.+?)\s*$", re.I | re.S
)
_BARE = re.compile(r"^\s*(wait|finish|fail|done)\s*$", re.I)
_ARG = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\[[^\]]*\]|\([^)]*\)|[^,]+')


def _literal(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        body = raw[1:-1]
        if raw[0] == '"':
            try:
                return str(json.loads(raw))
            except ValueError:
                return body
        return body.replace("\\'", "'")
    return raw


def _args(inner: str) -> list[str]:
    return [t.strip() for t in _ARG.findall(inner) if t.strip()]


def _int(raw: str) -> int:
    raw = re.sub(r"^\w+\s*=\s*", "", raw.strip())  # x=10
    try:
        return int(float(raw))
    except ValueError:
        raise ActionError("unparsable_action", f"not a number: {raw[:40]!r}") from None


def _key(raw: str) -> str:
    key = _literal(raw).strip().lower().replace(" ", "")
    key = _KEY_ALIASES.get(key, key)
    if key not in KEYS:
        raise ActionError("unknown_key", f"unknown key {raw[:40]!r}")
    return key


def _pointing(name: str, args: list[str]) -> Action:
    if len(args) == 1:
        ref = re.sub(r"^(?:id|element|element_id)\s*=\s*", "", args[0].strip(), flags=re.I)
        if ref.startswith("(") and ref.endswith(")"):  # click((x, y))
            return _pointing(name, _args(ref[1:-1]))
        ref = _literal(ref.strip("[]#").strip()).strip("[]#").strip()
        if not re.fullmatch(r"[\w.:-]+", ref):
            raise ActionError("unparsable_action", f"{name} needs (x, y) or [id]")
        return Action(name, {"element": ref})
    if len(args) == 2:
        return Action(name, {"x": _int(args[0]), "y": _int(args[1])})
    raise ActionError("unparsable_action", f"{name} takes (x, y) or [id]")


def parse_action(text: str) -> Action:
    """One action from its text; ActionError (with a filter reason) when it is not one."""
    text = text.strip().strip("`").strip()
    if bare := _BARE.match(text):
        return Action(_NAME_ALIASES.get(bare[1].lower(), bare[1].lower()), {})
    if colon := _COLON.match(text):  # the paper's "press key: enter" / "type text: hi"
        word, rest = (colon[1] or colon[2]).lower().split()[0], colon[3]
        return _build(word, [rest] if word != "hotkey" else _args(rest), rest)
    call = _CALL.match(text)
    if call is None:
        raise ActionError("unparsable_action", f"not an action: {text[:80]!r}")
    name = re.sub(r"[\s-]+", "_", call[1].strip().lower())
    return _build(_NAME_ALIASES.get(name, name), _args(call[2]), call[2])


def _build(name: str, args: list[str], inner: str) -> Action:
    if name in POINTING:
        return _pointing(name, args)
    if name in _ARITY:
        return Action(name, {})
    if name == "type":
        typed = _literal(inner)
        if not typed:
            raise ActionError("unparsable_action", "type() needs the text")
        return Action("type", {"text": typed})
    if name == "press":
        if len(args) != 1:
            raise ActionError("unparsable_action", "press() takes one key")
        return Action("press", {"key": _key(args[0])})
    if name == "hotkey":
        keys = [
            _key(a) for a in (args if len(args) > 1 else re.split(r"\s*\+\s*", _literal(inner)))
        ]
        if not 2 <= len(keys) <= 4:
            raise ActionError("unparsable_action", "hotkey() takes 2 to 4 keys")
        return Action("hotkey", {"keys": keys})
    if name == "scroll":
        if len(args) == 1:  # the paper's vertical scroll (dy)
            return Action("scroll", {"dx": 0, "dy": _int(args[0])})
        if len(args) != 2:
            raise ActionError("unparsable_action", "scroll() takes (dx, dy)")
        return Action("scroll", {"dx": _int(args[0]), "dy": _int(args[1])})
    if name == "drag":
        flat = re.findall(r"-?\d+", inner)  # drag(1, 2, 3, 4), the paper's "from (1, 2) to (3, 4)"
        if len(flat) != 4:
            raise ActionError("unparsable_action", "drag() takes (x1, y1, x2, y2)")
        x1, y1, x2, y2 = (_int(v) for v in flat)
        return Action("drag", {"x1": x1, "y1": y1, "x2": x2, "y2": y2})
    raise ActionError("unknown_action", f"no action {name!r}")


def fit(action: Action, screen: Screen) -> Element | None:
    """Check the action against its step: ids must be in that tree, points on the screen.
    Returns the element it acts on (None for keys, scrolls, a click on empty space)."""
    a = action.arguments
    if "element" in a:
        element = screen.elements.get(a["element"])
        if element is None:
            raise ActionError("unknown_element", f"no element [{a['element']}] in this tree")
        return element
    points = [(a["x"], a["y"])] if "x" in a else []
    if action.name == "drag":
        points = [(a["x1"], a["y1"]), (a["x2"], a["y2"])]
    for x, y in points:
        if not (0 <= x < screen.width and 0 <= y < screen.height):
            size = f"{screen.width}x{screen.height}"
            raise ActionError("off_screen", f"({x}, {y}) is off the {size} screen")
    return screen.at(*points[0]) if points else None
