"""Workflows: the steps an agent follows with a client (Self-Talk), as a list or a graph."""

from __future__ import annotations

from typing import Any

from curation.seeds.kinds.common import ParsedSeed, Record, json_type, short
from curation.seeds.kinds.spec import FieldSpec, KindSpec

MAX_STEPS = 50
MAX_STEP_TEXT = 1000  # a step, not a manual
_STEP_KEYS = ("id", "text", "next")

SPEC = KindSpec(
    id="workflow",
    label="Workflow",
    description="An agent's workflow: a goal and its steps. Steps are a list of strings (done "
    "in order) or a graph of {id, text, next: [ids]}; a step without 'next' leads to the one "
    "after it, 'next': [] ends the workflow. The first step is the start.",
    fields=(
        FieldSpec("name", "Optional short name.", aliases=("title",)),
        FieldSpec(
            "goal",
            "What the workflow is for, in words.",
            required=True,
            aliases=("description", "task"),
        ),
        FieldSpec("steps", "The steps: strings, or objects {id, text, next}.", required=True),
    ),
    payload=("name", "goal", "steps"),
    example={
        "name": "return_item",
        "goal": "Help a customer return an item bought online.",
        "steps": [
            "Greet the customer and ask what they want to return.",
            "Ask for the order number.",
            "Explain the return options and let the customer choose one.",
            "Confirm the return and say goodbye.",
        ],
    },
    detected_by="a 'steps' key holding a list",
)


def parse(rec: Record) -> ParsedSeed:
    name = rec.text("name")
    goal = rec.text("goal", required=True)
    raw = rec.get("steps")
    where = rec.where("steps")
    if not isinstance(raw, list) or not raw:
        got = "an empty list" if isinstance(raw, list) else json_type(raw)
        raise rec.error(
            f"field {rec.label('steps')} must be a non-empty list of steps, got {got}", "steps"
        )
    if len(raw) > MAX_STEPS:
        raise rec.error(
            f"field {rec.label('steps')} has {len(raw)} steps; the limit is {MAX_STEPS}", "steps"
        )
    steps = [_step(rec, f"{where}[{i}]", item, i) for i, item in enumerate(raw)]
    ids = [s["id"] for s in steps]
    for i, step in enumerate(steps):
        if step["id"] in ids[:i]:
            raise rec.loc.error(f"step id {step['id']!r} is used twice", field=f"{where}[{i}].id")
        if step["next"] is None:
            step["next"] = [ids[i + 1]] if i + 1 < len(steps) else []
        for target in step["next"]:
            if target not in ids:
                raise rec.loc.error(
                    f"{where}[{i}].next names {target!r}, which is not a step id; ids: "
                    f"{', '.join(ids)}",
                    field=f"{where}[{i}].next",
                )
    payload = {"name": name, "goal": goal, "steps": steps, "meta": rec.meta()}
    lines = [name, goal] + [f"{k}. {s['text']}" for k, s in enumerate(steps, 1)]
    return ParsedSeed("workflow", payload, "\n".join(x for x in lines if x), rec.loc.number)


def _step(rec: Record, path: str, item: Any, i: int) -> dict[str, Any]:
    """One step as {id, text, next} (next None: the following step, filled in by parse)."""
    loc = rec.loc
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        raise loc.error(
            f"field {path!r} must be a string or an object, got {json_type(item)}", field=path
        )
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        got = "an empty string" if isinstance(text, str) else json_type(text)
        raise loc.error(f"field {path}.text must be a non-empty string, got {got}", field=path)
    if "\n" in text.strip() or len(text) > MAX_STEP_TEXT:
        raise loc.error(
            f"field {path}.text must be one line of at most {MAX_STEP_TEXT} characters",
            field=f"{path}.text",
        )
    step: dict[str, Any] = {"id": _id(loc, f"{path}.id", item.get("id"), i), "text": text.strip()}
    nxt = item.get("next")
    if nxt is None:
        step["next"] = None
    else:
        targets = nxt if isinstance(nxt, list) else [nxt]
        step["next"] = [_id(loc, f"{path}.next", t, None) for t in targets]
    extras = {k: v for k, v in item.items() if k not in _STEP_KEYS}
    if extras:
        step["meta"] = extras
    return step


def _id(loc: Any, path: str, value: Any, i: int | None) -> str:
    """A step id as a string: given (a string or a whole number), or the 1-based position."""
    if value is None and i is not None:
        return str(i + 1)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise loc.error(
            f"field {path!r} must hold step ids (strings or numbers), got {short(value)}",
            field=path,
        )
    return str(value).strip()
