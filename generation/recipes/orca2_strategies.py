"""Orca 2's reasoning strategies, and the rule that picks one for a task.

Orca 2 (Mitra et al. 2023) teaches a small model *which* strategy to use by having the
teacher answer each task cluster with the strategy that works best for it, and then erasing
the strategy prompt. The paper picks per cluster by measuring the teacher; Seedbed picks per
task with the documented rule below (`choose`), and, when the teacher misses a gold answer,
tries the next strategies in PREFERENCE order (the recipe's `strategy_retries`).
"""

from __future__ import annotations

import re

from generation.recipes.base import SeedRow
from generation.recipes.kit import answers
from generation.recipes.kit.seeds import seed_prompt

STRATEGIES = (
    "step_by_step",
    "recall_then_generate",
    "recall_reason_generate",
    "extract_generate",
    "direct_answer",
)
# The order further strategies are tried in after a miss.
PREFERENCE = (
    "step_by_step",
    "recall_reason_generate",
    "recall_then_generate",
    "extract_generate",
    "direct_answer",
)
_MATH = re.compile(
    r"\d\s*[-+*/x×÷^%=]\s*\d|\b(?:how many|how much|how far|how long|total|sum|product|"
    r"difference|percent|average|area|cost|costs|per)\b",
    re.IGNORECASE,
)
_WHY = re.compile(r"\b(?:why|how does|how do|how can|explain|compare|reason|cause)\b", re.I)
_RECALL = re.compile(r"^\s*(?:who|what|which|when|where|name|list)\b", re.IGNORECASE)
_LONG_INPUT_WORDS = 25


def choose(seed: SeedRow) -> tuple[str, str]:
    """(strategy, why) for a seed, by the first rule that applies:

    1. a classification instruction → direct answer;
    2. a numeric gold answer, or a question with numbers and arithmetic words → step by step;
    3. an instruction with an input text of 25+ words → extract, then generate;
    4. a why / how / explain / compare question → recall, reason, then generate;
    5. a who / what / which / when / where question → recall, then generate;
    6. anything else (open-ended writing) → direct answer.
    """
    payload = seed.payload
    prompt = seed_prompt(seed)
    gold = str(payload.get("answer") or "") if seed.kind == "qa" else ""
    first = (payload.get("instances") or [{}])[0]
    given = str(first.get("input") or "") if isinstance(first, dict) else ""
    if payload.get("is_classification"):
        return "direct_answer", "classification instruction"
    if (gold and answers.as_number(gold) is not None) or (
        re.search(r"\d", prompt) and _MATH.search(prompt)
    ):
        return "step_by_step", "numeric answer or arithmetic question"
    if len(given.split()) >= _LONG_INPUT_WORDS:
        return "extract_generate", "instruction over a given text"
    if _WHY.search(prompt):
        return "recall_reason_generate", "asks for an explanation"
    if _RECALL.match(prompt):
        return "recall_then_generate", "factual question"
    return "direct_answer", "open-ended task"


def fallbacks(first: str, retries: int) -> list[str]:
    """The strategies to try: `first`, then up to `retries` others in PREFERENCE order."""
    return [first, *[s for s in PREFERENCE if s != first][:retries]]
