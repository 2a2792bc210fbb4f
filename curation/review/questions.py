"""The questions a queue asks of each item, and the checks on the answers.

A queue's `questions` is a list of dicts. Types:
  decision  accept / reject (at most one)            -> Review.decision
  rating    a 1..scale score (scale 2-10)            -> Review.rating for the first one,
                                                        answers[id] for the others
  labels    options to tick; `multiple` or just one  -> Review.labels for the first one,
                                                        answers[id] for the others
  text      free text                                -> Review.comment for "comment",
                                                        answers[id] for the others
  ranking   order the candidates (preference samples) -> Review.ranking
Questions can be added while annotation goes on; earlier reviews simply lack the answer.
"""

from __future__ import annotations

import re
from typing import Any

from curation.projects.services import ServiceError

TYPES = ("decision", "rating", "labels", "text", "ranking")
SINGLETONS = {"decision", "ranking"}
DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {"id": "decision", "type": "decision", "title": "Keep this sample?"},
    {"id": "quality", "type": "rating", "title": "Quality", "scale": 5},
    {"id": "comment", "type": "text", "title": "Comment"},
    {"id": "ranking", "type": "ranking", "title": "Rank the candidates"},
]
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 5000


def normalize(question: dict[str, Any], existing: list[dict[str, Any]]) -> dict[str, Any]:
    """A clean copy of one question, or a ServiceError that says what is wrong with it."""
    if not isinstance(question, dict):
        raise ServiceError("A question must be an object with an id and a type.")
    qtype = question.get("type")
    if qtype not in TYPES:
        raise ServiceError(f"The question type must be one of {', '.join(TYPES)}.")
    qid = str(question.get("id") or qtype).strip()
    if not _ID.match(qid):
        raise ServiceError(
            f"Question id {qid[:40]!r}: use lowercase letters, digits and _ (up to 40)."
        )
    if any(q["id"] == qid for q in existing):
        raise ServiceError(f"This queue already asks a question with id {qid!r}.")
    if qtype in SINGLETONS and any(q["type"] == qtype for q in existing):
        raise ServiceError(f"A queue asks at most one {qtype} question.")
    title = str(question.get("title") or qid.replace("_", " ").capitalize())[:200]
    out: dict[str, Any] = {"id": qid, "type": qtype, "title": title}
    if qtype == "rating":
        scale = question.get("scale", 5)
        if not isinstance(scale, int) or not 2 <= scale <= 10:
            raise ServiceError("A rating scale runs from 2 to 10 points.")
        out["scale"] = scale
    if qtype == "labels":
        options = question.get("options")
        if isinstance(options, str):
            options = [o.strip() for o in options.split(",")]
        if not isinstance(options, list):
            raise ServiceError("A labels question needs a list of options.")
        options = [str(o).strip()[:64] for o in options if str(o).strip()]
        if not 1 <= len(options) <= 50 or len(set(options)) != len(options):
            raise ServiceError("A labels question needs 1 to 50 distinct options.")
        out["options"] = options
        out["multiple"] = bool(question.get("multiple", True))
    return out


def normalize_all(questions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not questions:
        return [dict(q) for q in DEFAULT_QUESTIONS]
    out: list[dict[str, Any]] = []
    for q in questions:
        out.append(normalize(q, out))
    return out


def first_of(questions: list[dict[str, Any]], qtype: str) -> dict[str, Any] | None:
    return next((q for q in questions if q["type"] == qtype), None)


def check_answers(
    questions: list[dict[str, Any]],
    *,
    rating: int | None,
    labels: list[str],
    answers: dict[str, Any],
) -> dict[str, Any]:
    """Validate a review's answers against the queue's questions; return the clean answers."""
    by_id = {q["id"]: q for q in questions}
    first_rating = first_of(questions, "rating")
    first_labels = first_of(questions, "labels")
    if rating is not None:
        scale = first_rating["scale"] if first_rating else 10
        if not 1 <= rating <= scale:
            raise ServiceError(f"The rating must be between 1 and {scale}.")
    if labels:
        _check_labels(first_labels, labels)
    clean: dict[str, Any] = {}
    for qid, value in (answers or {}).items():
        q = by_id.get(qid)
        if q is None:
            raise ServiceError(f"This queue asks no question {str(qid)[:40]!r}.")
        if value in (None, "", []):
            continue
        if q["type"] == "rating":
            if not isinstance(value, int) or not 1 <= value <= q["scale"]:
                raise ServiceError(
                    f"{q.get('title', q['id'])}: a whole number from 1 to {q['scale']}."
                )
        elif q["type"] == "labels":
            value = [value] if isinstance(value, str) else value
            _check_labels(q, value)
        elif q["type"] == "text":
            value = str(value)[:MAX_TEXT]
        else:
            raise ServiceError(
                f"{q.get('title', q['id'])} is answered by its own field, not in answers."
            )
        clean[qid] = value
    return clean


def _check_labels(question: dict[str, Any] | None, labels: Any) -> None:
    if question is None:
        raise ServiceError("This queue asks no labels question.")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ServiceError(f"{question.get('title', question['id'])}: a list of labels.")
    unknown = [x for x in labels if x not in question["options"]]
    if unknown:
        raise ServiceError(
            f"{question.get('title', question['id'])}: unknown label {unknown[0][:64]!r}."
        )
    if not question["multiple"] and len(labels) > 1:
        raise ServiceError(f"{question.get('title', question['id'])}: pick one label.")
