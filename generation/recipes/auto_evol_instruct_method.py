"""Auto Evol-Instruct's evolving method as text, and its failure detector (METHODS.md #12).

A method is a list of steps written "Step N: #name# what to do", the last one always
#Finally Rewritten Instruction#; the evol LLM answers in the same shape, and the final step
is the evolved instruction. Parsing is lenient (code fences, "Step 2." or "Step 2 -",
missing names), since a weak model rarely keeps the format exactly.

The failure detector follows the four failure kinds of the paper, read from the evolved
instruction and its response as the reference code does: stagnant complexity (the rewrite
is the instruction unchanged, or the answer is a bare acknowledgement that ends in a
question: "Understood, … ?"), insufficient qualification ("Sure, … ?", "what do you
mean", "could you explain"), loss of key information ("please provide", "could you
clarify", "what exactly", "need more information"), plus Evol-Instruct's elimination
rules (b)-(d), reused from evol_instruct_rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generation.recipes.evol_instruct_rules import BANNED, eliminate
from generation.recipes.prompts import PromptError

FINAL = "Finally Rewritten Instruction"
# Words of our own evolve prompt that a broken rewrite copies (rule (d)).
OWN_BANNED = (
    "#instruction#",
    "#rewritten instruction#",
    "#finally rewritten instruction#",
    "#methods list#",
    "#plan#",
)
_STEP = re.compile(
    r"(?:^|\n)\W*Step\s*(\d+)\s*[:.)\-]*\s*(?:#([^#\n]{1,80})#\s*:?)?(.*?)(?=\n\W*Step\s*\d+\s*[:.)\-]|\Z)",
    re.S | re.I,
)
_FENCE = re.compile(r"```[^\n]*\n?")
_STAGNANT = re.compile(r"\b(?:understood|thank you|noted|got it|okay|alright)\b")
_INSUFFICIENT = re.compile(r"\b(?:sure|certainly|of course|happy to help)\b")
_ASKS = re.compile(r"\b(?:what do you mean|could you explain)\b")
_LOST = re.compile(r"\b(?:please provide|need more information|could you clarify|what exactly)\b")


@dataclass(frozen=True)
class MethodStep:
    name: str
    text: str


def parse_steps(text: str) -> list[MethodStep]:
    """The "Step N: #name# …" steps of a method or of an evol LLM's answer, in order."""
    body = _FENCE.sub("\n", text or "")
    steps = []
    for m in _STEP.finditer(body):
        name = " ".join((m.group(2) or "").split())
        steps.append(MethodStep(name, m.group(3).strip()))
    return steps


def _is_final(name: str) -> bool:
    key = re.sub(r"[^a-z]", "", name.lower())
    return key.startswith("final") or key == "finallyrewritteninstruction"


def parse_method(text: str) -> list[MethodStep]:
    """A method's steps; PromptError unless there are ≥ 2 named steps ending in #Finally
    Rewritten Instruction# (also how a person's override of the method is checked)."""
    steps = parse_steps(text)
    if len(steps) < 2 or not all(s.name for s in steps):
        raise PromptError('A method is two or more steps written "Step N: #name# what to do".')
    if not _is_final(steps[-1].name):
        raise PromptError(f"The last step of a method must be #{FINAL}#.")
    return steps


def method_text(steps: list[MethodStep]) -> str:
    """The canonical text of a method (what is stored as a prompt version). Template braces
    are taken out, so a model-written method cannot name a placeholder."""
    lines = []
    for i, s in enumerate(steps, 1):
        body = s.text.replace("{{", "").replace("}}", "").strip()
        lines.append(f"Step {i}: #{s.name}#\n{body}".strip())
    return "\n\n".join(lines)


def answer_format(steps: list[MethodStep]) -> str:
    """The shape the evol LLM answers in: one "Step N: #name#" heading per step."""
    return "\n".join(f"Step {i}: #{s.name}#\n..." for i, s in enumerate(steps, 1))


def final_instruction(answer: str) -> str | None:
    """The evolved instruction: the text of the final step (or after its marker), or None."""
    steps = parse_steps(answer)
    text: str | None = None
    rewrites = [s for s in steps if "rewritten" in s.name.lower()]  # a model that stops early
    if steps and (_is_final(steps[-1].name) or rewrites):
        text = steps[-1].text if _is_final(steps[-1].name) else rewrites[-1].text
    else:
        marker = re.split(r"#?\s*finally\s+rewritten\s+instruction\s*#?\s*:?", answer, flags=re.I)
        text = marker[-1] if len(marker) > 1 else None
    if text is None:
        return None
    text = _FENCE.sub("", text).strip().strip("*").strip().strip('"').strip()
    return text or None


def failure(original: str, evolved: str | None, response: str | None) -> str | None:
    """Why an evolution failed, or None. `response` None: only the instruction is checked."""
    if evolved is None:
        return "unparsed_evolution"
    if " ".join(evolved.lower().split()) == " ".join(original.lower().split()):
        return "stagnant_complexity"
    reason = eliminate(evolved, response, [*BANNED, *OWN_BANNED])
    if reason is not None or response is None:
        return reason
    said = response.strip().lower()
    asks = said.endswith("?")
    if asks and _STAGNANT.search(said):
        return "stagnant_complexity"
    if (asks and _INSUFFICIENT.search(said)) or _ASKS.search(said):
        return "insufficient_qualification"
    if _LOST.search(said):
        return "lost_key_information"
    return None


def failure_rate(reasons: list[str | None]) -> float:
    """The share of the dev set whose evolution failed (1.0 for an empty dev set)."""
    return sum(r is not None for r in reasons) / len(reasons) if reasons else 1.0
