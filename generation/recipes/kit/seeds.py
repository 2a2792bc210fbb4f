"""What a seed stands for as a prompt, whatever its kind (curation/seeds/kinds)."""

from __future__ import annotations

from generation.recipes.base import SeedRow


def seed_prompt(seed: SeedRow) -> str:
    """The instruction and its first input, a question, the first user turn, or the text."""
    payload = seed.payload
    if seed.kind == "qa" or "question" in payload:
        return str(payload.get("question") or seed.text).strip()
    if "instruction" in payload:
        first = (payload.get("instances") or [{}])[0]
        extra = first.get("input") or ""
        return f"{payload['instruction']}\n\n{extra}".strip()
    for m in payload.get("messages", []):
        if m.get("role") == "user" and m.get("content"):
            return str(m["content"]).strip()
    return " ".join(seed.text.split())


def label_space(seeds: list[SeedRow]) -> list[str]:
    """The distinct labels of labelled seeds, in the order they first appear."""
    labels = dict.fromkeys(str(s.payload.get("label") or "") for s in seeds)
    return [label for label in labels if label]
