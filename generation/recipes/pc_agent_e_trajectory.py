"""A human GUI trajectory as text, read from a conversation seed and refined (PC Agent-E ①).

The seed's user turns are observations (accessibility trees), its assistant turns the human's
actions; the task comes from the seed's `task` field (or its system message, or a first
line "Task: …"), the screen's size from `screen` ([width, height]). Refinement follows the
paper's clean-up in text: unreadable actions, leading waits, lone modifier presses, clicks
and waits that changed nothing, and exact repeats are dropped; runs of typing are merged;
a last observation without an action becomes the human's finish().
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from generation.recipes.pc_agent_e_actions import (
    GRAMMAR,
    LONE_NO_OPS,
    POINTING,
    Action,
    ActionError,
    Element,
    Screen,
    fit,
    parse_action,
)

AGENT_SYSTEM = (
    "You operate a computer for the user. Each step you see the task, your previous steps "
    "and the screen as an accessibility tree (elements with [id] and bounds x1, y1, x2, y2). "
    "Think about what you see and what is left to do, then choose exactly one action.\n"
    f"Actions:\n{GRAMMAR}\n"
    'Reply with your thought, then a last line "Action: <one action>".'
)
_ACTION_LINE = re.compile(r"^[\s*#>]*Action[\s*]*:[\s*]*(.*?)\s*$", re.M | re.I)
_THOUGHT_LABEL = re.compile(
    r"^[\s*#]*(?:my\s+)?(?:thought(?:\s+process)?|reasoning)[\s*]*:?[\s*]*\n?", re.I
)
_TASK_LINE = re.compile(r"^\s*Task\s*:\s*(.+)$", re.I)


@dataclass(frozen=True)
class HumanStep:
    screen: Screen
    action: Action
    element: Element | None = None
    thought: str = ""  # a thought the seed already carries (kept when long enough)


@dataclass
class Trajectory:
    task: str
    steps: list[HumanStep]
    counts: Counter[str] = field(default_factory=Counter)  # refinement's drops, by reason


def split_reply(text: str) -> tuple[str, str | None]:
    """(thought, action text) from "…thought…\\nAction: click([5])"; the last Action line
    wins (models restate the format first). No Action line: (text, None)."""
    found = list(_ACTION_LINE.finditer(text))
    if not found:
        return text.strip(), None
    last = found[-1]
    action = last.group(1).strip().strip("`").strip()
    if not action:  # "Action:" on its own line, the action below it
        rest = text[last.end() :].strip().splitlines()
        action = rest[0].strip().strip("`").strip() if rest else ""
    return text[: last.start()].strip(), action or None


def clean_thought(text: str, min_chars: int) -> str | None:
    """A thought without labels, fences and a trailing action; None when too short (the
    paper drops thoughts under 15 characters) or a refusal."""
    thought, _ = split_reply(text)
    thought = _THOUGHT_LABEL.sub("", thought.strip().strip("`").strip(), count=1).strip()
    if thought.startswith("{") and thought.endswith("}"):
        thought = thought[1:-1].strip()
    low = thought.lower()
    if len(thought) < min_chars or low.startswith(("i'm sorry", "sorry", "i cannot", "i can't")):
        return None
    return thought


def _screen_size(meta: dict[str, Any], width: int, height: int) -> tuple[int, int]:
    size = meta.get("screen")
    if isinstance(size, dict):
        size = [size.get("width"), size.get("height")]
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size):
        return (size[0], size[1]) if size[0] > 0 and size[1] > 0 else (width, height)
    return width, height


def read_trajectory(payload: dict[str, Any], width: int, height: int) -> Trajectory:
    """The seed's steps, unrefined: each assistant turn acts on the user turn before it."""
    meta = payload.get("meta") or {}
    width, height = _screen_size(meta if isinstance(meta, dict) else {}, width, height)
    task = meta.get("task") if isinstance(meta, dict) else None
    task = task.strip() if isinstance(task, str) else ""
    counts: Counter[str] = Counter()
    steps: list[HumanStep] = []
    pending: str | None = None
    for message in payload.get("messages") or []:
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str):
            continue
        if role == "system":
            task = task or content.strip()
        elif role == "user":
            lines = content.strip().splitlines()
            if lines and (head := _TASK_LINE.match(lines[0])):
                task, lines = task or head.group(1).strip(), lines[1:]
            if pending is not None:
                counts["human_observation_without_action"] += 1
            pending = "\n".join(lines).strip("\n")
        elif role == "assistant":
            if pending is None:
                counts["human_action_without_observation"] += 1
                continue
            thought, said = split_reply(content)
            screen = Screen.read(pending, width, height)
            pending = None
            try:
                action = parse_action(said if said is not None else content)
                element = fit(action, screen)
            except ActionError as error:
                counts[f"human_{error.reason}"] += 1
                continue
            steps.append(HumanStep(screen, action, element, thought if said else ""))
    if pending and (not steps or steps[-1].action.name not in ("finish", "fail")):
        steps.append(HumanStep(Screen.read(pending, width, height), Action("finish", {})))
    return Trajectory(task, steps, counts)


def _no_op(step: HumanStep, after: HumanStep | None) -> bool:
    a = step.action
    if a.name == "scroll" and a.arguments["dx"] == a.arguments["dy"] == 0:
        return True
    unchanged = after is not None and after.screen.text == step.screen.text
    return unchanged and (a.name in POINTING or a.name == "wait")


def refine(trajectory: Trajectory, *, merge_typing: bool = True) -> Trajectory:
    """Step ①: the paper's clean-up of raw recordings, in text (see the module's doc)."""
    counts = Counter(trajectory.counts)
    raw = trajectory.steps
    kept: list[HumanStep] = []
    for i, step in enumerate(raw):
        after = raw[i + 1] if i + 1 < len(raw) else None
        if step.action.name == "wait" and not kept:
            counts["human_leading_wait"] += 1
        elif step.action.name == "press" and step.action.arguments["key"] in LONE_NO_OPS:
            counts["human_lone_modifier"] += 1
        elif _no_op(step, after):
            counts["human_no_op"] += 1
        elif kept and kept[-1].action == step.action and kept[-1].screen.text == step.screen.text:
            counts["human_duplicate"] += 1
        elif merge_typing and kept and kept[-1].action.name == step.action.name == "type":
            text = kept[-1].action.arguments["text"] + step.action.arguments["text"]
            kept[-1] = replace(kept[-1], action=Action("type", {"text": text}))
            counts["human_typing_merged"] += 1
        else:
            kept.append(step)
    return Trajectory(trajectory.task, kept, counts)


def history(steps: list[HumanStep], thoughts: list[str], upto: int, limit: int) -> str:
    """The human's steps before `upto` (the last `limit` of them): thought and action each,
    as the paper's history; observations of earlier steps are not repeated."""
    shown = []
    for k in range(max(0, upto - limit), upto):
        thought = thoughts[k] if k < len(thoughts) else ""
        said = f"{thought}\nAction: " if thought else "Action: "
        shown.append(f"Step {k + 1}: {said}{steps[k].action.text()}")
    return "\n\n".join(shown) if shown else "None: this is the first step."


def context(task: str, past: str, screen: Screen) -> str:
    """A training sample's user turn: task, history and this step's observation."""
    return (
        f"Task: {task}\n\nPrevious steps:\n{past}\n\n"
        f"Current screen ({screen.width}x{screen.height}), accessibility tree:\n{screen.text}\n\n"
        "What is your next step?"
    )


def response(thought: str, action: Action) -> str:
    return f"{thought}\n\nAction: {action.text()}"


def step_view(screen: Screen, thought: str, action: Action) -> dict[str, Any]:
    """One entry of extra["steps"] (the trajectory review page's shape)."""
    return {
        "thought": thought,
        "action": action.to_json(),
        "observation": screen.text,
        "error": False,
    }
