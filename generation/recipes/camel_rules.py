"""CAMEL's readers and rules: role pairs, the specified task, task lists, and the stop rules
checked after every turn of the role-play (the reference's termination conditions)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from generation.sim import Conversation, Turn

DONE = "<CAMEL_TASK_DONE>"
STOP_TOKENS = (DONE, "CAMEL_TASK_DONE")  # small models drop the angle brackets
INSTRUCTION = "Instruction:"
# The reference counts turns with these words; this many in a row end the chat.
COURTESY = ("goodbye", "good bye", "thank", "bye", "welcome", "language model")
COURTESY_RUN = 4
# Reasons the rules end a conversation for: the turn that broke the rule is not kept.
RULE_BREAKS = frozenset(
    {"user_no_instruct", "assistant_instruct", "repeated_turn", "courtesy_loop", "token_limit"}
)
MAX_ROLE = 80

_LEAD = re.compile(r"^[\s*#>_`-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LABEL = re.compile(r"^\s*\**\s*(?:specified|specific|rewritten|new)?\s*task\s*\**\s*:\s*", re.I)
_NUMBERED = re.compile(r"^\s*\(?\d{1,3}[.)]\s*(.+)$")
_ROLE_LINE = re.compile(r"^[\s*#>-]*(assistant|user)(?:\s+role)?\s*\**\s*[:=-]\s*(.+)$", re.I)


def parse_pair(line: str) -> tuple[str, str]:
    """ "Python Programmer | Stock Trader" → (assistant role, user role)."""
    parts = [p.strip() for p in line.split("|")]
    if len(parts) != 2 or not all(parts) or any(len(p) > MAX_ROLE for p in parts):
        raise ValueError(
            f"A role pair is 'assistant role | user role' (each at most {MAX_ROLE} "
            f"characters); got {line!r}."
        )
    return parts[0], parts[1]


def parse_pairs(lines: Sequence[str]) -> list[tuple[str, str]]:
    return [parse_pair(line) for line in lines if line.strip()]


def specified_task(text: str, word_limit: int, truncated: bool = False) -> str | None:
    """The specifier's task in one paragraph, within the word limit: whole sentences up to
    the limit when it says more (a cut-off reply loses its unfinished sentence); None when
    nothing is left."""
    text = _LABEL.sub("", text.strip().strip('"').strip())
    text = " ".join(text.replace("**", "").split()).strip('"').strip()
    if truncated or len(text.split()) > word_limit:
        kept: list[str] = []
        for sentence in _SENTENCE_END.split(text):
            if len(" ".join([*kept, sentence]).split()) > word_limit:
                break
            kept.append(sentence)
        if truncated and kept and not kept[-1].endswith((".", "!", "?")):
            kept.pop()
        text = " ".join(kept)
    return text or None


def parse_role_pair(text: str) -> tuple[str, str] | None:
    """The two lines "Assistant: <role>" and "User: <role>", or one "A | B" line."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = _ROLE_LINE.match(line)
        if m and m.group(1).lower() not in found:
            found[m.group(1).lower()] = m.group(2).strip().strip("*").strip().rstrip(".")
    if "assistant" not in found and "user" not in found and text.count("|") == 1:
        try:
            return parse_pair(text.strip().splitlines()[0])
        except ValueError:
            return None
    pair = found.get("assistant", ""), found.get("user", "")
    ok = all(pair) and all(len(r) <= MAX_ROLE for r in pair)
    return pair if ok else None


def parse_task_list(text: str, limit: int, truncated: bool = False) -> list[str]:
    """The numbered lines of a task list, distinct, at most `limit`; a cut-off last line goes."""
    lines = text.strip().splitlines()
    if truncated and lines:
        lines.pop()
    tasks: list[str] = []
    for line in lines:
        m = _NUMBERED.match(line)
        task = m.group(1).strip().strip("*").strip() if m else ""
        if task and task.lower() not in (t.lower() for t in tasks):
            tasks.append(task)
    return tasks[:limit]


def instructs(text: str) -> bool:
    """A turn that gives an instruction: it starts with "Instruction:" (markdown aside)."""
    return _LEAD.sub("", text).lower().startswith(INSTRUCTION.lower())


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def broken_rule(conversation: Conversation, turn: Turn, user: str) -> str | None:
    """Why this turn ends the conversation, if it does: the user answers instead of
    instructing (role flip), the assistant instructs (role flip), a turn repeats one of the
    same agent's, four turns in a row of courtesies, or a turn cut off at max_tokens."""
    if turn.truncated:
        return "token_limit"
    if turn.agent == user and not instructs(turn.content):
        return "user_no_instruct"
    if turn.agent != user and INSTRUCTION in turn.content:
        return "assistant_instruct"
    earlier = conversation.turns[:-1]
    if any(t.agent == turn.agent and _norm(t.content) == _norm(turn.content) for t in earlier):
        return "repeated_turn"
    last = conversation.turns[-COURTESY_RUN:]
    polite = [any(w in t.content.lower() for w in COURTESY) for t in last]
    if len(polite) == COURTESY_RUN and all(polite):
        return "courtesy_loop"
    return None
