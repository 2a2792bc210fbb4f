"""The BFCL-format fixture (our own functions and questions): question file and possible
answers, as BFCL ships them, read into items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
QUESTIONS = FIXTURES / "bfcl_questions.jsonl"
ANSWERS = FIXTURES / "bfcl_possible_answer.jsonl"


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def items() -> dict[str, dict[str, Any]]:
    """id -> {id, question, function, ground_truth}; irrelevance items get []."""
    gold = {r["id"]: r["ground_truth"] for r in _rows(ANSWERS)}
    return {r["id"]: r | {"ground_truth": gold.get(r["id"], [])} for r in _rows(QUESTIONS)}
