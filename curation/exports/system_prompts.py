"""The `system_prompt` export option: Orca 2's prompt erasure, undone or taken further.

Orca 2 asks the teacher with a strategy system prompt ("think step by step", "answer
directly", ...) and stores the student's row with a generic system prompt instead, so that
the student learns to pick a strategy without being told; the teacher's prompt is kept in
`extra["erased_system_prompt"]`. An export writes the system messages:

- "stored" (the default): as stored, the generic prompt for Orca 2 rows;
- "teacher": the teacher's prompt restored where a sample kept one (it replaces a leading
  system message, or leads the conversation), every other sample as stored;
- "none": without any system message.

Pure functions on plain data: streams.py applies them to each sample as it is read.
"""

from __future__ import annotations

from typing import Any, Literal

from curation.exports.formats import Msgs, Src

Mode = Literal["stored", "teacher", "none"]
MODES: tuple[str, ...] = ("stored", "teacher", "none")
ERASED = "erased_system_prompt"  # the extra key Orca 2 stores the teacher's prompt under
CHOICES = [
    ("stored", "As stored (Orca 2: the generic prompt)"),
    ("teacher", "The teacher's prompt, restored where a sample kept it"),
    ("none", "No system messages"),
]


def mode_of(options: dict[str, Any] | None) -> str:
    """The option of a version; versions made before it existed are "stored"."""
    mode = (options or {}).get("system_prompt", "stored")
    return mode if mode in MODES else "stored"


def teacher_prompt(extra: dict[str, Any]) -> str | None:
    value = extra.get(ERASED)
    return value if isinstance(value, str) and value.strip() else None


def apply(messages: Msgs, mode: str, teacher: str | None = None) -> Msgs:
    """The messages as the mode writes them (a new list; the input is left alone)."""
    if mode == "none":
        return [m for m in messages if m.get("role") != "system"]
    if mode == "teacher" and isinstance(teacher, str) and teacher.strip():
        if messages and messages[0].get("role") == "system":
            return [{**messages[0], "content": teacher}, *messages[1:]]
        return [{"role": "system", "content": teacher}, *messages]
    return messages


def apply_src(src: Src, mode: str) -> Src:
    """A sample's prompt (and, for "none", its answers) as the mode writes them."""
    if mode == "stored":
        return src
    src.messages = apply(src.messages, mode, teacher_prompt(src.extra))
    if mode == "none":
        src.chosen = apply(src.chosen, mode) if src.chosen is not None else None
        src.rejected = apply(src.rejected, mode) if src.rejected is not None else None
    return src
