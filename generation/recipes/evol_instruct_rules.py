"""Evol-Instruct's elimination rules (METHODS.md #11, rules (a)-(d)), apart from the recipe."""

from __future__ import annotations

import re

# Rule (d): the reference's template words, and the words of Seedbed's own evolve prompts.
BANNED = (
    "#the given prompt#",
    "#rewritten prompt#",
    "#created prompt#",
    "given prompt",
    "rewritten prompt",
    "created prompt",
    "rewritten version",
    "original prompt",
    "new prompt",
    "rewritten prompt only",
)
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have i if in into is it its me my no not of "
    "on or our so such that the their then there these they this to was we were what when "
    "which will with you your yes ok okay".split()
)


def eliminate(
    instruction: str, response: str | None, banned: list[str] | None = None
) -> str | None:
    """Rules (b)-(d): the reason a rewrite is eliminated, or None. Rule (a) needs the LLM."""
    lowered = instruction.lower()
    if not instruction.strip() or any(b.lower() in lowered for b in banned or BANNED if b):
        return "copied_template_words"
    if response is None:
        return None
    words = re.findall(r"[A-Za-z0-9']+", response)
    if "sorry" in response.lower() and len(words) < 80:
        return "sorry_short"
    if all(w.lower() in STOP_WORDS for w in words):
        return "response_only_stopwords"
    return None


def equality(text: str) -> bool | None:
    """Rule (a)'s verdict: True (equal: no gain), False, or None when it does not parse."""
    said = text.strip().lower().strip(" .\"'*")
    if said.startswith("not equal"):
        return False
    if said.startswith("equal"):
        return True
    return None
