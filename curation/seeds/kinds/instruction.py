"""Instructions with one or more input/output instances (Self-Instruct, Alpaca, Dolly)."""

from __future__ import annotations

from typing import Any

from curation.seeds.kinds.common import Loc, ParsedSeed, Record, json_type, required_str
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="instruction",
    label="Instruction",
    description="A task instruction with one or more input/output instances.",
    fields=(
        FieldSpec("instruction", "The task, in words.", required=True),
        FieldSpec(
            "instances",
            "List of {input, output}; a flat record gives one instance from its "
            "input (or context) and output (or response).",
            required=True,
        ),
        FieldSpec("input", "Flat records only: the instance input.", aliases=("context",)),
        FieldSpec("output", "Flat records only: the instance output.", aliases=("response",)),
        FieldSpec("is_classification", "true when the outputs are class labels."),
    ),
    payload=("instruction", "instances", "is_classification"),
    example={
        "instruction": "Classify the sentiment of the review.",
        "instances": [{"input": "Loved it.", "output": "positive"}],
        "is_classification": True,
    },
    detected_by="an 'instruction' key",
)


def parse(rec: Record) -> ParsedSeed:
    instruction = rec.text("instruction", required=True)
    is_classification = rec.get("is_classification")
    if is_classification is None:
        is_classification = False
    elif not isinstance(is_classification, bool):
        raise rec.error(
            f"field {rec.label('is_classification')} must be true or false, "
            f"got {json_type(is_classification)}",
            "is_classification",
        )
    if rec.has("instances"):
        for stray in ("input", "output"):
            if rec.has(stray):
                raise rec.error(f"field {rec.label(stray)} cannot sit beside 'instances'", stray)
        raw = rec.get("instances")
        if not isinstance(raw, list) or not raw:
            raise rec.error(f"field {rec.label('instances')} must be a non-empty list", "instances")
        path = rec.where("instances")
        instances = [_instance(item, f"{path}[{i}]", rec.loc) for i, item in enumerate(raw)]
    else:
        value = rec.get("input")
        if value is not None and not isinstance(value, str):
            raise rec.error(
                f"field {rec.label('input')} must be a string, got {json_type(value)}", "input"
            )
        instances = [{"input": value or "", "output": rec.text("output", required=True)}]
    payload = {
        "instruction": instruction,
        "instances": instances,
        "is_classification": is_classification,
        "meta": rec.meta(),
    }
    parts = [instruction] + [p for i in instances for p in (i["input"], i["output"])]
    return ParsedSeed("instruction", payload, "\n".join(p for p in parts if p), rec.loc.number)


def _instance(item: Any, path: str, loc: Loc) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise loc.error(f"field {path!r} must be an object, got {json_type(item)}", field=path)
    value = item.get("input")
    if value is not None and not isinstance(value, str):
        name = f"{path}.input"
        raise loc.error(f"field {name!r} must be a string, got {json_type(value)}", field=name)
    output = required_str(item, "output", loc, f"{path}.")
    instance: dict[str, Any] = {"input": value or "", "output": output}
    extras = {k: v for k, v in item.items() if k not in ("input", "output")}
    if extras:  # a nested instance keeps its own extra keys
        instance["meta"] = extras
    return instance
