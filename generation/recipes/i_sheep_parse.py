"""I-SHEEP's readers and rules (METHODS.md #6): a new task out of the meta-prompt's reply,
the rule filters on tasks and outputs, and the self-assessment's `<score>||<explanation>`.

All of it reads untrusted model text: a reader returns None (or names the rule that failed)
rather than raise, and the recipe drops the item with that reason.
"""

from __future__ import annotations

import math
import re

from generation.recipes.kit.parse import parse_score

# "4. Instruction:", "**Instruction:**", "Instruction -": the label of a field, numbered or not.
_LABEL = r"(?:^|\n)[ \t>*_#]*(?:\d+\s*[.)]\s*)?[*_]*\s*{name}\s*[*_]*\s*[:：-]\s*[*_]*[ \t]*"
_INSTRUCTION = re.compile(_LABEL.format(name="instruction"), re.IGNORECASE)
_INPUT = re.compile(_LABEL.format(name="input"), re.IGNORECASE)
_AFTER_INPUT = re.compile(_LABEL.format(name="(?:output|response|answer|instruction|input)"), re.I)
_NO_INPUT = re.compile(r"^[<\[(\"']*\s*(?:no\s*input|none|n/?a|empty|nothing)\s*[>\])\"'.]*$", re.I)
# Rules on a task. The placeholder for an empty input left in the text, a field label inside
# a field (the reply ran on into the next task), a web address the model cannot open.
_PLACEHOLDER = re.compile(r"<\s*no\s*input\s*>|\bno\s*input\b|\bnoinput\b", re.IGNORECASE)
_FIELD_LABEL = re.compile(r"\S\s+(?:instruction|input|output)\s*:", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://", re.IGNORECASE)
MIN_WORDS, MAX_WORDS = 4, 150
# Rules on an output: a role or field label opening a line (the model wrote a dialogue or
# the next task instead of answering), the task list's separator, the empty-input marker.
_OUTPUT_LABEL = re.compile(
    r"^[ \t*_#]*(?:assistant|system|human|user|question|instruction|input|output)\s*[*_]*\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_LEADING_LABEL = re.compile(r"^\s*[*_]*(?:output|response|answer)\s*[*_]*\s*:\s*", re.I)
# The judge's score: the scale named around it is not the score ("1-10", "/10", "out of 10").
_SCALE = re.compile(
    r"\(?\b(?:from\s+)?1\s*(?:-|–|to)\s*10\b\)?|/\s*10\b|\bout\s+of\s+10\b", re.IGNORECASE
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LEADING_NUMBER = re.compile(r"^[\W_]*?(\d+(?:\.\d+)?)(?![\d.]*\s*[-–]\s*\d)")


def parse_task(text: str) -> tuple[str, str] | None:
    """(instruction, input) of the first task in the reply; input "" where there is none.

    The meta-prompt ends with "N. Instruction:", so a reply usually opens with the
    instruction itself; it may also repeat the label, use bold labels, or run on into more
    tasks after "###" (only the first is read)."""
    chunks = [c for c in re.split(r"\n?\s*#{3,}\s*\n?", text) if c.strip()]
    if not chunks:
        return None
    chunk = chunks[0]
    opened = _INSTRUCTION.search(chunk)
    if opened is not None and not chunk[: opened.start()].strip():
        chunk = chunk[opened.end() :]
    head, given = chunk, ""
    labelled = _INPUT.search(chunk)
    if labelled is not None:
        head, given = chunk[: labelled.start()], chunk[labelled.end() :]
        ended = _AFTER_INPUT.search(given)
        given = given[: ended.start()] if ended is not None else given
    else:
        ended = _AFTER_INPUT.search(head)
        head = head[: ended.start()] if ended is not None else head
    instruction = " ".join(head.split()).strip("*_ ")
    given = given.strip().strip("*_").strip()
    if _NO_INPUT.match(given):
        given = ""
    return (instruction, given) if instruction else None


def task_rule(instruction: str, given: str) -> str | None:
    """Which rule an (instruction, input) breaks, in words, or None."""
    words = len(instruction.split())
    if words < MIN_WORDS or words > MAX_WORDS:
        return f"instruction of {words} words (allowed {MIN_WORDS}-{MAX_WORDS})"
    if _PLACEHOLDER.search(instruction) or _PLACEHOLDER.search(given):
        return "an empty-input placeholder inside the task"
    if _FIELD_LABEL.search(instruction) or _FIELD_LABEL.search(given):
        return "a field label inside the task (it runs on into another)"
    if _URL.search(instruction) or _URL.search(given):
        return "a web address the model cannot open"
    return None


def input_in_instruction(instruction: str, given: str) -> bool:
    """The paper's ill-paired task: a non-empty input that the instruction already contains."""
    flat = " ".join(given.split())
    return bool(flat) and flat in " ".join(instruction.split())


def clean_output(text: str) -> str:
    """The output without a leading "Output:" / "Response:" label and surrounding space."""
    return _LEADING_LABEL.sub("", text.strip(), count=1).strip()


def output_rule(output: str) -> str | None:
    """Which rule a (non-empty) output breaks, in words, or None."""
    if _OUTPUT_LABEL.search(output):
        return "a role or field label (a dialogue or a next task, not an answer)"
    if re.search(r"^\s*#{3,}", output, re.MULTILINE) or _PLACEHOLDER.search(output):
        return "the task list's markers"
    return None


def parse_pipe_score(text: str, maximum: float = 10.0) -> float | None:
    """The score of a `<score>||<explanation>` judgement, rounded to a whole number (as the
    reference code does); None outside 1..maximum or when none is found.

    A number opening the reply comes first; else the last number before "||" (a scale
    named there, "1-10", "/10", "out of 10", is not the score); else a "Score: N" line."""
    head = text.strip()
    found = _LEADING_NUMBER.match(_SCALE.sub(" ", head))
    value: float | None = float(found.group(1)) if found else None
    if value is None and "||" in head:
        numbers = _NUMBER.findall(_SCALE.sub(" ", head.split("||", 1)[0]))
        value = float(numbers[-1]) if numbers else None
    if value is None:
        value = parse_score(text, maximum)
    if value is None or not math.isfinite(value):
        return None
    value = float(round(value))
    return value if 1.0 <= value <= maximum else None


def explanation(text: str) -> str:
    """What follows "||" in a judgement (the whole reply where there is no separator)."""
    return text.split("||", 1)[1].strip() if "||" in text else text.strip()
