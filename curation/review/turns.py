"""The turns of a conversation sample: their numbers, who spoke, flags and truncation.

A *turn* is a non-system message, counted from 1 in the order of the messages: the review
page, the API (`turns`, `truncate_after`), the history and the audit log all use that number.

- Marks: a reviewer may flag a turn (with an optional short reason) and rate it (1-5). They
  are stored on the Review as `{"3": {"flag": true, "reason": "..."}, "5": {"rating": 2}}`.
- Truncation keeps the turns up to and including one turn and drops the rest. It is an
  edit: a SampleRevision (`truncated_after` set) that undo takes back like any other.
- Who spoke: multi-agent recipes store per turn the agent, run role and model in
  `extra["turns"]` (generation/sim: one entry per simulated turn, after any opening
  messages) and the agents' personas in `extra["personas"]`. Both are untrusted in shape:
  an entry of the wrong shape is left out.
"""

from __future__ import annotations

from typing import Any

from curation.projects.services import ServiceError
from curation.review.models import SampleRevision
from curation.samples.models import Sample, SampleKind

Msgs = list[dict[str, Any]]
MAX_REASON = 300
RATING_SCALE = 5
MARK_KEYS = ("flag", "reason", "rating")
MAX_PERSONAS = 20
MAX_PERSONA = 20_000  # characters of one persona shown


class InvalidTurns(ServiceError):
    """Turn marks or a truncation this sample cannot take (the API answers 400)."""


def numbers(messages: Msgs) -> list[int | None]:
    """Per message, its turn number (None for a system message)."""
    out: list[int | None] = []
    n = 0
    for m in messages:
        if m.get("role") == "system":
            out.append(None)
        else:
            n += 1
            out.append(n)
    return out


def count(messages: Msgs) -> int:
    return sum(1 for m in messages if m.get("role") != "system")


def _require_conversation(sample: Sample, what: str) -> None:
    if sample.kind != SampleKind.CONVERSATION:
        raise InvalidTurns(f"Only conversation samples {what}; this one is {sample.kind}.")


def _turn(key: Any, n: int) -> int:
    text = str(key).strip()
    turn = int(text) if text.isdigit() and not isinstance(key, bool) else 0
    if not 1 <= turn <= n:
        raise InvalidTurns(f"Turn {key!r} is not in this conversation: its turns are 1 to {n}.")
    return turn


def _mark(turn: int, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidTurns(f'Turn {turn}: expected an object such as {{"flag": true}}.')
    unknown = sorted(str(k) for k in raw if k not in MARK_KEYS)
    if unknown:
        raise InvalidTurns(
            f"Turn {turn}: unknown field(s) {', '.join(unknown)}; a turn takes flag, reason "
            "and rating."
        )
    flag, reason, rating = raw.get("flag", False), raw.get("reason") or "", raw.get("rating")
    if not isinstance(flag, bool):
        raise InvalidTurns(f"Turn {turn}: flag must be true or false.")
    if not isinstance(reason, str) or len(reason.strip()) > MAX_REASON:
        raise InvalidTurns(f"Turn {turn}: the reason must be text of at most {MAX_REASON} chars.")
    if reason.strip() and not flag:
        raise InvalidTurns(f'Turn {turn}: a reason explains a flag; send "flag": true with it.')
    if rating is not None and (
        isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= RATING_SCALE
    ):
        raise InvalidTurns(f"Turn {turn}: the rating must be a whole number from 1 to 5.")
    mark: dict[str, Any] = {"flag": True} if flag else {}
    if reason.strip():
        mark["reason"] = reason.strip()
    if rating is not None:
        mark["rating"] = rating
    return mark


def checked_marks(sample: Sample, raw: Any, messages: Msgs) -> dict[str, dict[str, Any]]:
    """The turn marks to store, keyed by turn number in order; {} for none. `messages` is
    the conversation as reviewed (with any edit, before any truncation)."""
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise InvalidTurns('turns must be an object keyed by turn number, e.g. {"3": {...}}.')
    _require_conversation(sample, "have turns to flag or rate")
    n = count(messages)
    marks: dict[int, dict[str, Any]] = {}
    for key, value in raw.items():
        turn = _turn(key, n)
        marks[turn] = _mark(turn, value)
    return {str(t): marks[t] for t in sorted(marks) if marks[t]}


def _has_pair(messages: Msgs) -> bool:
    """A user turn followed, sooner or later, by an assistant turn."""
    user = False
    for m in messages:
        user = user or m.get("role") == "user"
        if user and m.get("role") == "assistant":
            return True
    return False


def truncated(sample: Sample, messages: Msgs, after: Any) -> Msgs | None:
    """The messages up to and including turn `after` (system messages before it kept);
    None when no truncation was asked for."""
    if after is None:
        return None
    _require_conversation(sample, "can be truncated")
    n = count(messages)
    if isinstance(after, bool) or not isinstance(after, int) or not 1 <= after <= n:
        raise InvalidTurns(f"truncate_after must be a turn from 1 to {n}; got {after!r}.")
    end = numbers(messages).index(after) + 1
    kept = messages[:end]
    if not _has_pair(kept):
        raise InvalidTurns(
            f"Cutting after turn {after} would leave no user turn followed by an assistant "
            "turn; keep at least one such pair."
        )
    return kept


def audit_fields(marks: dict[str, dict[str, Any]], after: int | None, cut: int) -> dict[str, Any]:
    """What the review's audit record adds about turns (nothing when there is none)."""
    out: dict[str, Any] = {}
    if marks:
        out["turns_flagged"] = [int(t) for t, m in marks.items() if m.get("flag")]
        out["turns_rated"] = {t: m["rating"] for t, m in marks.items() if "rating" in m}
    if after is not None and cut:
        out |= {"truncated_after": after, "messages_cut": cut}
    return out


def _text(value: Any, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _speaker(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or not _text(entry.get("agent")):
        return None
    tokens = entry.get("tokens_out")
    return {
        "agent": _text(entry.get("agent")),
        "role": _text(entry.get("role")),
        "model": _text(entry.get("model")),
        "tokens": tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
        "truncated": entry.get("truncated") is True,
    }


def original_messages(sample: Sample) -> Msgs:
    """The messages as the recipe stored them (before any revision)."""
    first = (
        SampleRevision.objects.filter(sample=sample)
        .order_by("number")
        .values_list("messages_before", flat=True)
        .first()
    )
    return first if isinstance(first, list) else sample.messages


def speakers(sample: Sample) -> list[dict[str, Any] | None]:
    """Per message, who spoke it (agent, run role, model, tokens), from `extra["turns"]`.

    An entry naming its `message` index is placed there. Otherwise the entries are the
    simulated turns in order, which follow the opening messages of the conversation as the
    recipe stored it; counting from the original keeps the names right after a truncation.
    """
    lineage = sample.extra.get("turns") if isinstance(sample.extra, dict) else None
    messages = sample.messages
    if not isinstance(lineage, list) or not lineage:
        return [None] * len(messages)
    if all(isinstance(e, dict) and isinstance(e.get("message"), int) for e in lineage):
        placed = {e["message"]: _speaker(e) for e in lineage}
        return [placed.get(i) for i in range(len(messages))]
    opening = max(0, count(original_messages(sample)) - len(lineage))
    out: list[dict[str, Any] | None] = []
    for turn in numbers(messages):
        at = turn - 1 - opening if turn is not None else -1
        out.append(_speaker(lineage[at]) if 0 <= at < len(lineage) else None)
    return out


def personas(sample: Sample) -> list[tuple[str, str]]:
    """(agent, persona) pairs from `extra["personas"]`, in the recipe's order."""
    raw = sample.extra.get("personas") if isinstance(sample.extra, dict) else None
    if not isinstance(raw, dict):
        return []
    out = []
    for name, text in list(raw.items())[:MAX_PERSONAS]:
        if _text(name) and isinstance(text, str) and text.strip():
            out.append((_text(name), text.strip()[:MAX_PERSONA]))
    return out


def transcript(sample: Sample) -> list[dict[str, Any]]:
    """The review page's rows: per message its index, turn number, speaker and the message."""
    who = speakers(sample) if sample.kind == SampleKind.CONVERSATION else None
    return [
        {"index": i, "turn": turn, "m": m, "speaker": who[i] if who else None}
        for i, (m, turn) in enumerate(zip(sample.messages, numbers(sample.messages), strict=True))
    ]
