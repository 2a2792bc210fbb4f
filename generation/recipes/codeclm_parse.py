"""Reading CodecLM's model outputs (METHODS.md #26): seed metadata, rubrics and actions,
and an instruction without its wrapping. All of it untrusted; None / [] for what is not
there, and the recipe decides what that means.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from generation.recipes.kit import tags

MAX_USE_CASE = 80
_USE_CASE = re.compile(r"use[\s_-]*case\W{0,3}\s*[:：=-]\s*(.+)", re.I)
_SKILLS = re.compile(r"skills?\W{0,3}\s*[:：=-]\s*(.*)", re.I | re.S)
_SECTION = re.compile(r"^\W*(rubrics?|actions?)\W*:?\W*$", re.I | re.M)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.{4,500})$", re.M)


@dataclass(frozen=True)
class Metadata:
    use_case: str
    skills: list[str]


def parse_metadata(text: str, limit: int = 5) -> Metadata | None:
    """{use case, skills} from a JSON object or "Use case: …" / "Skills: …" lines."""
    text = re.sub(r"```[^\n]*\n?", "", text or "")
    use_case, skills = _from_json(text)
    if not use_case:
        said = _USE_CASE.search(text)
        use_case = said.group(1).splitlines()[0] if said else ""
    if not skills:
        listed = _SKILLS.search(text)
        skills = tags.parse_tags(listed.group(1)) if listed else []
    use_case = " ".join(use_case.strip().strip("\"'.*").split())
    found = tags.normalise_all(skills, limit)
    if not use_case or len(use_case) > MAX_USE_CASE or not found:
        return None
    return Metadata(use_case, found)


def _from_json(text: str) -> tuple[str, list[str]]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return "", []
    try:
        value = json.loads(text[start : end + 1])
    except (ValueError, RecursionError):  # deeply nested brackets are untrusted text too
        return "", []
    if not isinstance(value, dict):
        return "", []
    keys = {re.sub(r"[^a-z]", "", str(k).lower()): v for k, v in value.items()}
    use_case, skills = keys.get("usecase", ""), keys.get("skills", [])
    if isinstance(skills, str):
        skills = tags.parse_tags(skills)
    if not isinstance(skills, list):
        skills = []
    listed = [str(s) for s in skills if isinstance(s, str | int | float)]
    return (use_case if isinstance(use_case, str) else ""), listed


def parse_rubrics(text: str) -> tuple[str, list[str]]:
    """(rubrics text, actions) from a Self-Rubrics reply. Without an "Actions:" section the
    list items after the rubrics are the actions; with no list at all, the whole reply."""
    sections: dict[str, str] = {}
    marks = list(_SECTION.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        name = "actions" if m.group(1).lower().startswith("action") else "rubrics"
        sections[name] = text[m.end() : end].strip()
    rubrics = sections.get("rubrics", "")
    body = sections.get("actions") or (text if not marks else "")
    actions = [a.strip() for a in _ITEM.findall(body)]
    if not actions and text.strip() and not marks:
        actions = [" ".join(text.split())[:500]]
    return rubrics, actions
