"""Questions with gold answers (STaR, SPIN, ToRA, LMSI): GSM8K and MATH styles included."""

from __future__ import annotations

import re

from curation.seeds.kinds.common import ParsedSeed, Record
from curation.seeds.kinds.spec import FieldSpec, KindSpec

SPEC = KindSpec(
    id="qa",
    label="Question and answer",
    description="A question with its gold final answer. A GSM8K answer ('... #### 42') or a "
    "MATH solution ('... \\boxed{42}') keeps the full text as solution and the final "
    "answer as answer.",
    fields=(
        FieldSpec(
            "question",
            "The question or problem.",
            required=True,
            aliases=("query", "problem", "prompt"),
        ),
        FieldSpec(
            "answer",
            "The gold final answer (a number becomes its digits).",
            required=True,
            aliases=("gold", "target", "label", "solution"),
        ),
        FieldSpec(
            "rationale", "Optional reasoning given with the answer.", aliases=("explanation",)
        ),
        FieldSpec("solution", "The full worked solution, when the upload has one."),
    ),
    payload=("question", "answer", "rationale", "solution"),
    example={
        "question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
        "answer": "In May she sold 48 / 2 = 24 clips.\nIn all: 48 + 24 = 72.\n#### 72",
    },
    detected_by="'question' (or 'query', 'problem', 'prompt') with 'answer' "
    "(or 'gold', 'target', 'label', 'solution')",
)

_GSM8K = re.compile(r"^####[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_BOXED = "\\boxed{"


def parse(rec: Record) -> ParsedSeed:
    question = rec.text("question", required=True)
    raw = rec.scalar("answer", required=True)
    answer_key = rec.key("answer")
    answer, worked = final_answer(raw)
    if not answer.strip():
        raise rec.error(f"field {rec.label('answer')} has an empty final answer", "answer")
    # A separate solution column wins; else the answer text, when it held more than the answer.
    solution = rec.text("solution") if answer_key != "solution" else ""
    if not solution and worked:
        solution = raw
    payload = {
        "question": question,
        "answer": answer,
        "rationale": rec.text("rationale"),
        "solution": solution,
        "meta": rec.meta(),
    }
    return ParsedSeed("qa", payload, f"{question}\n{answer}", rec.loc.number)


def final_answer(text: str) -> tuple[str, bool]:
    """(final answer, whether `text` was a worked solution it was extracted from)."""
    marks = _GSM8K.findall(text)
    if marks:
        return marks[-1], True
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed, True
    return text, False


def last_boxed(text: str) -> str | None:
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None  # unbalanced: keep the text as the answer
