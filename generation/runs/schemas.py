from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field, field_validator

from curation.api_schema import INT32_MAX, INT64_MAX, BudgetCost, PositiveId, text

Id = Field(default=None, ge=1, le=INT64_MAX)


def _recipe_enum(schema: dict[str, Any]) -> None:
    from generation.recipes.registry import all_recipes

    schema["enum"] = [r.meta.id for r in all_recipes()]


def known_recipe(value: str) -> str:
    from generation.recipes.registry import UnknownRecipe, get_recipe

    try:
        get_recipe(value)
    except UnknownRecipe as exc:
        raise ValueError(str(exc)) from exc
    return value


RECIPE = Field(max_length=64, json_schema_extra=_recipe_enum, description="A recipe id.")


class RunIn(Schema):
    recipe: str = RECIPE
    seed_set: int | None = Id
    # The recipe's roles → endpoint ids ({"policy": 3, "judge": 5}); roles left out follow
    # their fallback. `endpoint` and `judge_endpoint` are the policy and judge roles, for
    # older clients.
    endpoints: dict[str, PositiveId] = Field(default={}, max_length=50)
    endpoint: int | None = Id
    judge_endpoint: int | None = Id
    params: dict[str, Any] = {}
    target_count: int = Field(default=100, ge=1, le=INT32_MAX)
    budget_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    budget_cost: BudgetCost | None = None
    # Stop as failed after this many finished items in a row without a sample;
    # null: max(200, 5 x target_count).
    futility_limit: int | None = Field(default=None, ge=1, le=INT32_MAX)
    name: str = text("", max_length=200)
    # The run this one follows as its next round (a method whose loop needs fine-tuning:
    # train on the previous round's export, register the trained model as an endpoint).
    previous_run: int | None = Id
    # Pairs (samples) judged with confidence below this go to a review queue; the rest are
    # accepted automatically and marked so. null: everything stays pending, as before.
    review_below: float | None = Field(default=None, gt=0, le=1)
    # This share of the confident ones goes to review too (needs review_below).
    spot_check: float = Field(default=0.0, ge=0, le=1)

    _recipe = field_validator("recipe")(known_recipe)


class EndpointRef(Schema):
    id: int
    name: str
    model: str


class RunOut(Schema):
    id: int
    project_id: int
    name: str
    recipe: str
    recipe_version: str
    params: dict[str, Any]
    seed_set: int | None
    endpoint: int | None
    judge_endpoint: int | None
    endpoints: dict[str, EndpointRef]  # role → the endpoint that plays it
    futility_limit: int | None
    # Counted by recipes but removing nothing (e.g. an optional filter skipped for lack of
    # logprobs); unlike `filtered`, these are not reasons an item made no sample.
    notes: dict[str, int]
    previous_run: int | None
    round: int
    review_below: float | None
    spot_check: float
    status: str
    target: int
    produced: int
    filtered: dict[str, int]
    filtered_total: int
    failed: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    budget_tokens: int | None
    budget_cost: Decimal | None
    samples_per_s: float | None
    eta_s: float | None
    progress: float
    last_error: str
    prompt_versions: dict[str, str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BudgetIn(Schema):
    budget_tokens: int | None = Field(default=None, ge=1, le=INT64_MAX)
    budget_cost: BudgetCost | None = None


class JudgeIn(Schema):
    sample_ids: list[PositiveId] | None = Field(default=None, max_length=100_000)
    run_id: int | None = Id
    endpoint: int | None = Id
    samples: int = Field(default=3, ge=1, le=20)


class QueuedOut(Schema):
    queued: int


class PromptOut(Schema):
    recipe: str
    name: str
    version: str
    text: str
    variables: list[str]


class PromptIn(Schema):
    recipe: str = RECIPE
    name: str = text(min_length=1, max_length=64)
    text: str = text(min_length=1)

    _recipe = field_validator("recipe")(known_recipe)


class RunItemOut(Schema):
    work_key: str
    outcome: str
    reason: str
    detail: str
    raw_output: str  # the last model output of a filtered or failed item, truncated
    attempts: int
    created_at: datetime


class RunItemPage(Schema):
    count: int
    page: int
    pages: int
    results: list[RunItemOut]
