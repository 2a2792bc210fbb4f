"""Constitutional AI's constitution (an editable JSON prompt) and its label clamp."""

from __future__ import annotations

import json
from typing import Any

from generation.recipes.prompts import PromptError

COT_CLAMP = (0.4, 0.6)


def parse_constitution(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(f"The constitution must be JSON: {exc}") from exc
    critiques = doc.get("critiques") if isinstance(doc, dict) else None
    comparisons = doc.get("comparisons") if isinstance(doc, dict) else None
    if not critiques or not all(
        isinstance(c, dict)
        and isinstance(c.get("critique"), str)
        and isinstance(c.get("revision"), str)
        for c in critiques
    ):
        raise PromptError(
            'The constitution needs "critiques": [{"critique": "...", "revision": "..."}, ...].'
        )
    if not comparisons or not all(isinstance(c, str) and c.strip() for c in comparisons):
        raise PromptError('The constitution needs "comparisons": ["Which response ...?", ...].')
    return {"critiques": critiques, "comparisons": comparisons}


def clamp(p: float, bounds: tuple[float, float] = COT_CLAMP) -> float:
    return min(max(p, bounds[0]), bounds[1])
