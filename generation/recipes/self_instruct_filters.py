"""Self-Instruct's CHECK rules and parsers (METHODS.md #24), as in the reference code.

Kept apart from the recipe so that the filters can be read (and tested) on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BLACKLIST = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
)
_BLACKLIST_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLACKLIST) + r")\b", re.I)
_LINE_RE = re.compile(r"^\s*(?:task\s*)?(\d{1,2})\s*[.):]\s*(.+?)\s*$", re.I)
NO_INPUT = "<noinput>"


def normalise(text: str) -> str:
    """Whitespace collapsed, as the reference does with seed and machine instructions."""
    return " ".join(text.split())


def instruction_filter(text: str, min_words: int, max_words: int) -> str | None:
    """The CHECK rules for a new instruction: the filter reason, or None to keep it."""
    words = text.split()
    if len(words) < min_words or len(words) > max_words:
        return "length"
    if _BLACKLIST_RE.search(text):
        return "keyword"
    if text.lower().startswith("write a program"):
        return "write_a_program"
    if not text[0].isascii():
        return "non_ascii_start"
    if not text[0].isalnum():
        return "punctuation_start"
    return None


def parse_tasks(text: str, first_number: int, shown: list[str], truncated: bool) -> list[str]:
    """New instructions from a continued numbered list.

    Small chat models often restart the list at 1 and copy examples; every numbered line
    counts, copies of what was shown are dropped here, and near-copies by ROUGE-L later.
    A reply cut off at max_tokens loses its last task, which is likely incomplete.
    """
    tasks = []
    seen = {s.strip().lower() for s in shown}
    lines = text.splitlines()
    if lines and not _LINE_RE.match(lines[0]) and lines[0].strip():
        lines[0] = f"{first_number}. {lines[0]}"  # the model continued right after "N."
    for line in lines:
        m = _LINE_RE.match(line)
        if m and m.group(2).strip().lower() not in seen:
            tasks.append(normalise(m.group(2)))
            seen.add(m.group(2).strip().lower())
    return tasks[:-1] if truncated else tasks


@dataclass(frozen=True)
class Instance:
    input: str
    output: str


def parse_instances(text: str, output_first: bool, truncated: bool) -> list[Instance]:
    """Instances from the reply; a reply cut off at max_tokens loses its last instance.

    Output-first (classification): "Class label: X" then the input, whatever its field
    name ("Sentence:", "Tweet:" as in the paper's demos stay part of the input; only our
    own "Input:" is stripped). Input-first: "Input: …" then "Output: …" per example.
    """
    out: list[Instance] = []
    if output_first:
        for block in re.split(r"(?im)^\s*class label\s*:", text)[1:]:
            label, _, rest = block.strip().partition("\n")
            rest = re.sub(r"(?is)^\s*input\s*:\s*", "", rest.strip())
            out.append(Instance(_clean(rest), label.strip()))
    else:
        for block in re.split(r"(?im)^\s*example\s*\d*\s*:?\s*$", text):
            m = re.search(r"(?is)input\s*:\s*(.*?)\n\s*output\s*:\s*(.*)", block)
            if m:
                out.append(Instance(_clean(m.group(1)), m.group(2).strip()))
    return out[:-1] if truncated else out


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value.lower() == NO_INPUT else value


def invalid(inst: Instance) -> bool:
    """Input = output, empty output, or a field ending with ':' (an incomplete generation)."""
    return (
        inst.input == inst.output
        or not inst.output
        or inst.input.endswith(":")
        or inst.output.endswith(":")
    )


def instance_filter(instances: list[Instance]) -> tuple[list[Instance], str | None]:
    """The reference's order: drop invalid instances, then the conflict check, then dedup.

    A task whose instances share a non-empty input with different outputs loses them all
    ("same input, different output"); repeated empty inputs are not a conflict.
    """
    valid = [i for i in instances if not invalid(i)]
    by_input: dict[str, str] = {}
    for inst in valid:
        if inst.input and inst.input in by_input and by_input[inst.input] != inst.output:
            return [], "instance_conflict"
        by_input.setdefault(inst.input, inst.output)
    kept = list(dict.fromkeys(valid))
    if not kept:
        return [], "no_valid_instances"
    return kept, None
