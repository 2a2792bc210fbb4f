from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema


class RunIn(Schema):
    recipe: str
    seed_set: int | None = None
    # The recipe's roles → endpoint ids ({"policy": 3, "judge": 5}); roles left out follow
    # their fallback. `endpoint` and `judge_endpoint` are the policy and judge roles, for
    # older clients.
    endpoints: dict[str, int] = {}
    endpoint: int | None = None
    judge_endpoint: int | None = None
    params: dict[str, Any] = {}
    target_count: int = 100
    budget_tokens: int | None = None
    budget_cost: Decimal | None = None
    # Stop as failed after this many finished items in a row without a sample;
    # null: max(200, 5 x target_count).
    futility_limit: int | None = None
    name: str = ""
    # The run this one follows as its next round (a method whose loop needs fine-tuning:
    # train on the previous round's export, register the trained model as an endpoint).
    previous_run: int | None = None
    # Pairs (samples) judged with confidence below this go to a review queue; the rest are
    # accepted automatically and marked so. null: everything stays pending, as before.
    review_below: float | None = None
    spot_check: float = 0.0  # this share of the confident ones goes to review too


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
    budget_tokens: int | None = None
    budget_cost: Decimal | None = None


class JudgeIn(Schema):
    sample_ids: list[int] | None = None
    run_id: int | None = None
    endpoint: int | None = None
    samples: int = 3


class QueuedOut(Schema):
    queued: int


class PromptOut(Schema):
    recipe: str
    name: str
    version: str
    text: str
    variables: list[str]


class PromptIn(Schema):
    recipe: str
    name: str
    text: str


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
