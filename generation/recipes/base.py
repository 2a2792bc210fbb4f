"""The plain values recipes and the driver exchange. No database here.

A recipe reads SeedRows, its steps return kit results (generation/recipes/kit), and the
kit turns what `make` returns into SampleDrafts and Skips, which the driver stores in one
transaction with the run's counters. That is what makes a crash lose at most the calls
that were in flight.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

# The primitives of METHODS.md §0.1 that a recipe may declare.
PRIMITIVES = frozenset(
    {
        "SAMPLE",
        "GEN",
        "JUDGE",
        "PAIRJ",
        "VOTE",
        "CHECK",
        "DEDUP-L",
        "PAIR",
        "FMT",
        "DEDUP-E",
        "SIM",
        "EXEC",
        "TOOLSIM",
        "ENV",
    }
)


class RecipeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Step:
    primitive: str
    name: str
    description: str

    def __post_init__(self) -> None:
        if self.primitive not in PRIMITIVES:
            raise ValueError(f"unknown primitive {self.primitive!r}")


@dataclass(frozen=True)
class SeedRow:
    id: int
    kind: str
    payload: dict[str, Any]
    text: str


@dataclass
class SampleDraft:
    """A sample as the kit produces it; the driver adds project, run and hashes."""

    work_key: str
    kind: str
    messages: list[dict[str, Any]]
    step: str
    prompt_version: str
    model: str
    seed_ids: list[int] = field(default_factory=list)
    parent_id: int | None = None
    parent_key: str | None = None  # resolved to parent_id when stored
    chosen: list[dict[str, Any]] | None = None
    rejected: list[dict[str, Any]] | None = None
    label: str = ""
    tools: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    judge_score: float | None = None
    judge_confidence: float | None = None
    judgements: list[JudgementDraft] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # Sample.tags: queue and export filters


@dataclass(frozen=True)
class JudgementDraft:
    judge_model: str
    rubric_id: str
    rubric_version: str
    score: float | None
    rationale: str
    raw_output: str
    confidence: float | None = None  # 0-1, generation/recipes/kit/confidence.py


@dataclass(frozen=True)
class Skip:
    """A unit of work that finished without a sample: filtered (by a rule) or failed."""

    work_key: str
    outcome: str  # "filtered" | "failed"
    reason: str
    detail: str = ""
    raw_output: str = ""  # the last model output, truncated, so people can see why


def content_key(*parts: str) -> str:
    """A short stable key from text, for work items identified by their content."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:24]
