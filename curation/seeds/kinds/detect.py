"""Which kind a record is, when the uploader did not say, and the parser for each kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curation.seeds.kinds import (
    KINDS,
    conversation,
    document,
    env_task,
    instruction,
    kg_triple,
    labelled,
    openapi,
    persona,
    principle,
    qa,
    text,
    tool_spec,
    word_list,
    workflow,
)
from curation.seeds.kinds.common import ImportContext, Loc, ParsedSeed, Record, json_type, present
from curation.seeds.kinds.common import short as _short

PARSERS: dict[str, Callable[[Record], list[ParsedSeed]]] = {
    "instruction": lambda r: [instruction.parse(r)],
    "conversation": lambda r: [conversation.parse(r)],
    "text": lambda r: [text.parse(r)],
    "qa": lambda r: [qa.parse(r)],
    "document": lambda r: [document.parse(r)],
    "tool_spec": tool_spec.parse,
    "persona": lambda r: [persona.parse(r)],
    "labelled": lambda r: [labelled.parse(r)],
    "principle": lambda r: [principle.parse(r)],
    "word_list": lambda r: [word_list.parse(r)],
    "workflow": lambda r: [workflow.parse(r)],
    "kg_triple": lambda r: [kg_triple.parse(r)],
    "env_task": lambda r: [env_task.parse(r)],
}

ACCEPTED_SHAPES = (
    "instruction + optional input + output (Alpaca, Self-Instruct)",
    "instruction + instances (Self-Instruct seed tasks)",
    "conversations of {from, value} (ShareGPT)",
    "messages of {role, content} (OpenAI chat)",
    "question + answer (qa)",
    "text + label (labelled)",
    "text + title or source (document)",
    "OpenAI or BFCL tools, or an OpenAPI 3 document (tool_spec)",
    "persona",
    "steps (workflow)",
    "head + relation + tail (kg_triple)",
    "env + task object (env_task)",
    "principle or critique_request + revision_request",
    "word",
    "text",
)

_QUESTION = KINDS["qa"].field("question").names
_ANSWER = KINDS["qa"].field("answer").names
_LABELLED_TEXT = KINDS["labelled"].field("text").names
_DOCUMENT_TEXT = KINDS["document"].field("text").names
_TRIPLE = ("head", "relation", "tail")
_PRINCIPLE = ("principle", "critique_request", "revision_request", "edit_request")


def detect(record: dict[str, Any]) -> str | None:
    """The kind of an unambiguous shape; None when no shape fits."""

    def has(*keys: str) -> bool:
        return any(present(record, k) for k in keys)

    if has("messages", "conversations"):
        return "conversation"
    if has("env") and isinstance(record.get("task"), dict):
        return "env_task"
    if has("instruction"):
        return "instruction"
    if openapi.is_document(record):
        return "tool_spec"
    function = record.get("function")
    if isinstance(function, dict) and record.get("type", "function") == "function":
        return "tool_spec"
    if has("name") and isinstance(record.get("parameters"), dict):
        return "tool_spec"
    if all(has(*KINDS["kg_triple"].field(f).names) for f in _TRIPLE):
        return "kg_triple"
    if has(*_QUESTION) and has(*_ANSWER):
        return "qa"
    if has("label") and has(*_LABELLED_TEXT):
        return "labelled"
    if has("persona"):
        return "persona"
    if isinstance(record.get("steps"), list):
        return "workflow"
    if has(*_PRINCIPLE) or (has("critique") and has("revision")):
        return "principle"
    if has("word", "phrase"):
        return "word_list"
    if has(*_DOCUMENT_TEXT) and has("title", "source", "url"):
        return "document"
    if has("text"):
        return "text"
    return None


def map_value(value: Any, loc: Loc, ctx: ImportContext) -> list[ParsedSeed]:
    """Seeds from one uploaded value: an object, or a bare string in a word list."""
    if isinstance(value, str) and ctx.kind == "word_list":
        value = {"word": value}
    if not isinstance(value, dict):
        hint = " (a list of words imports with kind word_list)" if isinstance(value, str) else ""
        raise loc.error(f"expected a JSON object, got {json_type(value)}{hint}")
    return map_record(value, loc, ctx)


def map_record(record: dict[str, Any], loc: Loc, ctx: ImportContext) -> list[ParsedSeed]:
    kind = ctx.kind or detect(record)
    if kind is None:
        keys = ", ".join(_short(k) for k in list(record)[:10]) or "none"
        raise loc.error(
            f"unrecognised seed shape (keys: {keys}); accepted shapes: "
            f"{'; '.join(ACCEPTED_SHAPES)}; or choose the kind and map its fields"
        )
    return PARSERS[kind](Record(record, loc, KINDS[kind], ctx))
