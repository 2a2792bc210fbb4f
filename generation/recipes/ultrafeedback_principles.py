"""UltraFeedback's principles: the system prompts that steer each response, and which one
a response gets.

The principles are an editable JSON prompt (`principles`): {"helpfulness": [...],
"honesty": [...], "truthfulness": [...], "verbalized_calibration": [...]}, each a list of
system prompts. A response draws a principle by the mix below, then one of its prompts.
The "paper" mix is the reference code's (OpenBMB/UltraFeedback, comparison data
generation): open-ended prompts (ShareGPT, UltraChat) draw helpfulness 3 in 5,
truthfulness 1 in 5 and honesty 1 in 5, and a tenth of the honesty draws become verbalized
calibration; questions with a reference answer (as FLAN) draw helpfulness 4 in 5 and
verbalized calibration 1 in 5.
"""

from __future__ import annotations

import json
import random

from generation.recipes.prompts import PromptError

PRINCIPLES = ("helpfulness", "honesty", "truthfulness", "verbalized_calibration")
_OPEN = ("helpfulness", "helpfulness", "helpfulness", "truthfulness", "honesty")
_ANSWERED = ("helpfulness", "helpfulness", "helpfulness", "helpfulness", "verbalized_calibration")
CALIBRATED_HONESTY = 0.1  # share of honesty draws that become verbalized calibration


def parse_principles(text: str) -> dict[str, list[str]]:
    """The principles prompt, checked: every principle with at least one system prompt."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(f"The principles must be JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PromptError("The principles must be a JSON object of lists.")
    out: dict[str, list[str]] = {}
    for name in PRINCIPLES:
        prompts = doc.get(name)
        if not isinstance(prompts, list) or not prompts:
            raise PromptError(f'The principles need "{name}": ["a system prompt", ...].')
        if not all(isinstance(p, str) and p.strip() for p in prompts):
            raise PromptError(f'Every "{name}" system prompt must be non-empty text.')
        out[name] = [p.strip() for p in prompts]
    return out


def draw_principle(rng: random.Random, mix: str, answered: bool) -> str | None:
    """The principle of one response under `mix` ("paper", "uniform" or "none")."""
    if mix == "none":
        return None
    if mix == "uniform":
        return rng.choice(PRINCIPLES)
    name = rng.choice(_ANSWERED if answered else _OPEN)
    if name == "honesty" and rng.random() < CALIBRATED_HONESTY:
        return "verbalized_calibration"
    return name
