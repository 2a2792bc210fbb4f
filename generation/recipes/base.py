"""What a recipe is: parameters, prompt templates and an async slice of work.

A recipe is data plus small functions built from the METHODS.md §0.1 primitives
(SAMPLE, GEN, JUDGE, PAIRJ, VOTE, CHECK, DEDUP-L, PAIR, FMT; DEDUP-E, SIM and EXEC
later). It never touches the database: it reads what the RunContext gives it and
hands back SampleDrafts and Skips, which the driver stores atomically with the run's
cursor. That is what makes a crash lose at most the calls that were in flight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from generation.llm import LLMClient
from generation.recipes.prompts import PromptTemplate

# The primitives of METHODS.md §0.1 that a recipe may declare. The last three arrive
# with the dedup, multi-agent and sandbox work; the engine already accepts them.
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
    """A sample as a recipe produces it; the driver adds project, run and hashes."""

    work_key: str
    kind: str
    messages: list[dict[str, Any]]
    step: str
    prompt_version: str
    model: str
    seed_ids: list[int] = field(default_factory=list)
    parent_id: int | None = None
    chosen: list[dict[str, Any]] | None = None
    rejected: list[dict[str, Any]] | None = None
    label: str = ""
    tools: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    judge_score: float | None = None
    judgements: list[JudgementDraft] = field(default_factory=list)


@dataclass(frozen=True)
class JudgementDraft:
    judge_model: str
    rubric_id: str
    rubric_version: str
    score: float | None
    rationale: str
    raw_output: str


@dataclass(frozen=True)
class Skip:
    """A unit of work that finished without a sample: filtered (by a rule) or failed."""

    work_key: str
    outcome: str  # "filtered" | "failed"
    reason: str
    detail: str = ""


Outcome = list[SampleDraft] | Skip


class RunContext(Protocol):
    """What the driver offers a recipe during one slice."""

    run_id: int
    target: int
    params: Any
    seeds: list[SeedRow]
    llm: LLMClient
    judge_llm: LLMClient
    model: str
    judge_model: str
    prompts: dict[str, PromptTemplate]
    state: dict[str, Any]
    rng: Any

    max_inflight: int

    @property
    def grace_seconds(self) -> float: ...

    def remaining(self) -> int: ...
    def time_left(self) -> float: ...
    async def run_instructions(self) -> list[str]: ...
    async def attempt(
        self, worker: Callable[[str, Any], Awaitable[Any]], key: str, payload: Any
    ) -> tuple[str, Any]: ...
    def should_stop(self) -> bool: ...
    def done_keys(self) -> set[str]: ...
    def count_filtered(self, reason: str, n: int = 1) -> None: ...
    def mark_exhausted(self) -> None: ...
    async def skips_of_run(self, prefix: str) -> list[dict[str, Any]]: ...
    async def samples_of_run(self, **filters: Any) -> list[dict[str, Any]]: ...
    async def process(
        self,
        items: Iterable[tuple[str, Any]],
        worker: Callable[[str, Any], Awaitable[Outcome]],
        *,
        samples_per_item: float = 1.0,
    ) -> bool: ...
    async def emit(self, outcomes: list[Outcome]) -> None: ...
    async def maybe_flush(self) -> None: ...
    async def commit(self, outcomes: list[Outcome]) -> None: ...


class Recipe:
    id: ClassVar[str]
    name: ClassVar[str]
    entry: ClassVar[int]  # row number in METHODS.md
    output_kind: ClassVar[str]
    version: ClassVar[str]
    summary: ClassVar[str]
    steps: ClassVar[tuple[Step, ...]]
    Params: ClassVar[type[RecipeParams]]
    needs_seed_set: ClassVar[bool] = True
    # Deviations from the paper or the reference code, stated where users can see them.
    deviations: ClassVar[tuple[str, ...]] = ()

    async def run_slice(self, ctx: RunContext) -> None:
        raise NotImplementedError

    @classmethod
    def validate_prompt(cls, name: str, text: str) -> None:
        """Recipe-specific checks for an override (beyond its placeholders)."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "id": cls.id,
            "name": cls.name,
            "version": cls.version,
            "methods_entry": cls.entry,
            "output_kind": cls.output_kind,
            "summary": cls.summary,
            "steps": [
                {"primitive": s.primitive, "name": s.name, "description": s.description}
                for s in cls.steps
            ],
            "params_schema": cls.Params.model_json_schema(),
            "defaults": cls.Params().model_dump(),
            "needs_seed_set": cls.needs_seed_set,
            "deviations": list(cls.deviations),
        }


def content_key(*parts: str) -> str:
    """A short stable key from text, for work items identified by their content."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:24]
