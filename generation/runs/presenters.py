"""How a run looks from outside: progress, rates and ETA, shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from generation.runs.models import Run, RunStatus


def run_summary(run: Run) -> dict[str, Any]:
    rate = run.produced / run.active_seconds if run.active_seconds > 0 and run.produced else None
    remaining = max(0, run.target_count - run.produced)
    eta = remaining / rate if rate and run.status in (RunStatus.RUNNING, RunStatus.QUEUED) else None
    return {
        "id": run.pk,
        "project_id": run.project_id,
        "name": str(run),
        "recipe": run.recipe_id,
        "recipe_version": run.recipe_version,
        "params": run.params,
        "seed_set": run.seed_set_id,
        "endpoint": run.endpoint_id,
        "judge_endpoint": run.judge_endpoint_id,
        "status": run.status,
        "target": run.target_count,
        "produced": run.produced,
        "filtered": run.filtered,
        "filtered_total": sum(run.filtered.values()),
        "failed": run.failed,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": run.cost,
        "budget_tokens": run.budget_tokens,
        "budget_cost": run.budget_cost,
        "samples_per_s": round(rate, 3) if rate else None,
        "eta_s": round(eta, 1) if eta is not None else None,
        "progress": min(1.0, run.produced / run.target_count) if run.target_count else 0.0,
        "last_error": run.last_error,
        "prompt_versions": (run.state or {}).get("prompts", {}),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
