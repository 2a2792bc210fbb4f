"""Reading BFCL files (untrusted bytes, already parsed into records) into sample drafts.

A file may hold question records (`id`, `question`, `function`), possible-answer records
(`id`, `ground_truth`), or both in one record (what the bfcl export writes): BFCL's question
file and its possible_answer file may simply be read one after the other. Each item becomes
a tool_trajectory sample: the question, then an assistant turn calling the plainest calls
its possible answers accept; the tools are the function docs as OpenAI tools; the BFCL id,
category and possible answers are kept in extra["bfcl"], which the export reads back.
"""

from __future__ import annotations

from typing import Any

from curation.exports.importing import ImportProblem, _messages
from curation.samples.models import Sample
from curation.seeds.kinds.common import Loc, SeedImportError
from curation.seeds.kinds.tool_spec import NAME, normalise_parameters
from generation.tools import bfcl

Records = list[tuple[str, dict[str, Any]]]


def drafts(records: Records) -> list[tuple[str, Sample]]:
    """One draft per question, in file order, joined with its possible answer by id."""
    questions: dict[str, tuple[str, dict[str, Any]]] = {}
    answers: dict[str, tuple[str, Any]] = {}
    for where, record in records:
        ident = record.get("id")
        if not isinstance(ident, str) or not ident.strip():
            raise ImportProblem(f"{where}: a BFCL record needs a text 'id'")
        is_question = "question" in record or "function" in record
        if not is_question and "ground_truth" not in record:
            raise ImportProblem(
                f"{where}: expected a BFCL question (id, question, function) or possible "
                "answer (id, ground_truth)"
            )
        if is_question:
            if ident in questions:
                raise ImportProblem(
                    f"{where}: id {ident!r} is already used on {questions[ident][0]}"
                )
            questions[ident] = (where, record)
        if "ground_truth" in record:
            if ident in answers:
                raise ImportProblem(
                    f"{where}: id {ident!r} already has a possible answer ({answers[ident][0]})"
                )
            answers[ident] = (where, record["ground_truth"])
    for ident, (where, _) in answers.items():
        if ident not in questions:
            raise ImportProblem(f"{where}: possible answer {ident!r} has no question in the file")
    return [
        (where, _draft(ident, record, answers.get(ident), where))
        for ident, (where, record) in questions.items()
    ]


def _draft(ident: str, r: dict[str, Any], answer: tuple[str, Any] | None, where: str) -> Sample:
    category = ident.rsplit("_", 1)[0] if ident.rsplit("_", 1)[-1][:1].isdigit() else ident
    if "java" in category or "multi_turn" in category:
        raise ImportProblem(
            f"{where}: {ident!r} is a {category} item; only Python single-turn categories "
            "(simple, multiple, parallel, parallel_multiple, irrelevance, live_*) are read"
        )
    messages = _question(r.get("question"), where)
    tools = _tools(r.get("function"), where)
    gold: list[Any] | None = None
    if answer is not None:
        gold = answer[1]
        try:
            expected = bfcl.parse_gold(gold)
        except ValueError as exc:
            raise ImportProblem(f"{answer[0]}: {ident!r}: {exc}") from None
        names = {t["function"]["name"] for t in tools}
        for want in expected:
            if want.name not in names:
                raise ImportProblem(
                    f"{answer[0]}: {ident!r} expects a call of {want.name!r}, which is not "
                    "among its functions"
                )
    elif "irrelevance" in category:
        gold = []  # BFCL ships no possible answers here: no call is the right answer
    if gold:
        calls = bfcl.calls_from_gold(gold, tools)
        verdict = bfcl.check(calls, tools, gold, category)
        if not verdict.valid:  # e.g. a required parameter the answer leaves out
            why = "; ".join(verdict.reasons[:3])
            raise ImportProblem(
                f"{where}: {ident!r}: its possible answer fails its own check ({why})"
            )
        messages.append(
            {"role": "assistant", "content": None, "tool_calls": bfcl.tool_calls(calls)}
        )
    item: dict[str, Any] = {"id": ident, "category": category}
    if gold is not None:
        item["ground_truth"] = gold
    return Sample(
        kind="tool_trajectory", messages=messages, step="import", tools=tools, extra={"bfcl": item}
    )


def _question(value: Any, where: str) -> list[dict[str, Any]]:
    """BFCL's question: a list of turns of messages (older files: one turn, or text)."""
    if isinstance(value, str) and value.strip():
        return [{"role": "user", "content": value}]
    turns = value if isinstance(value, list) and value and isinstance(value[0], list) else [value]
    if len(turns) != 1:
        raise ImportProblem(
            f"{where}: 'question' has {len(turns)} turns; multi-turn items are not read"
        )
    turn = _messages(turns[0], where, "question")
    if any(m.get("tool_calls") for m in turn):
        raise ImportProblem(
            f"{where}: the question holds tool calls; multi-step items are not read"
        )
    out = [{"role": m["role"], "content": m["content"]} for m in turn]
    if not any(m["role"] == "user" for m in out):
        raise ImportProblem(f"{where}: the question has no user message")
    return out


def _tools(value: Any, where: str) -> list[dict[str, Any]]:
    """BFCL function docs as OpenAI tools; their python type names become JSON Schema's."""
    docs = [value] if isinstance(value, dict) else value
    if not isinstance(docs, list) or not docs or not all(isinstance(d, dict) for d in docs):
        raise ImportProblem(f"{where}: field 'function' must be a list of function docs")
    unit, _, number = where.rpartition(" ")
    loc = Loc(unit, int(number) if number.isdigit() else 0)
    tools, seen = [], set()
    for i, doc in enumerate(docs):
        name = doc.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ImportProblem(
                f"{where}: function {i}: name must be 1 to 64 letters, digits, '_', '.' or '-'"
            )
        if name in seen:
            raise ImportProblem(f"{where}: function {name!r} is listed twice")
        seen.add(name)
        description = doc.get("description") or ""
        if not isinstance(description, str):
            raise ImportProblem(f"{where}: function {name!r}: description must be text")
        try:
            parameters = normalise_parameters(
                doc.get("parameters"), loc, f"function[{i}].parameters"
            )
        except SeedImportError as exc:
            raise ImportProblem(str(exc)) from None
        tools.append(
            {
                "type": "function",
                "function": {"name": name, "description": description, "parameters": parameters},
            }
        )
    return tools
