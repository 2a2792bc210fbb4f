from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.params import functions as param
from ninja.responses import Status

from curation.api_schema import INT32_MAX, NO_NUL, errors
from curation.paging import page_of
from curation.projects.access import object_for, project_for
from curation.projects.models import ModelEndpoint, Role
from curation.projects.services import ServiceError
from curation.seeds.models import SeedSet
from generation.recipes.registry import UnknownRecipe, describe_all, get_recipe, prompts_for
from generation.runs import services
from generation.runs.models import Run, RunItem
from generation.runs.presenters import matches, recipe_report, run_summaries, run_summary
from generation.runs.schemas import (
    BudgetIn,
    JudgeIn,
    PromptIn,
    PromptOut,
    QueuedOut,
    RunIn,
    RunItemPage,
    RunOut,
)

router = Router(tags=["runs"])


@router.get("/recipes", response=list[dict[str, Any]], tags=["recipes"])
def list_recipes(
    request: HttpRequest,
    output: str = param.Query("", max_length=64, pattern=NO_NUL),
    need: str = param.Query("", max_length=64, pattern=NO_NUL),
) -> list[dict[str, Any]]:
    """Every recipe, by METHODS entry. `output=preference` keeps recipes that make that kind
    (of e.g. "sft+preference"); `need=LP` those that declare that need, `need=none` those
    that need nothing beyond chat completion."""
    return [r for r in describe_all() if matches(r, output, need)]


@router.get("/projects/{project_id}/prompts", response=list[PromptOut], tags=["recipes"])
def list_prompts(
    request: HttpRequest,
    project_id: int,
    recipe: str = param.Query(..., max_length=64, pattern=NO_NUL),
) -> list[dict[str, Any]]:
    project_for(request.user, project_id)
    try:
        get_recipe(recipe)
    except UnknownRecipe as exc:
        raise HttpError(404, str(exc)) from exc
    return [
        {
            "recipe": recipe,
            "name": t.name,
            "version": t.version,
            "text": t.text,
            "variables": sorted(t.variables),
        }
        for t in prompts_for(recipe, project_id).values()
    ]


@router.post(
    "/projects/{project_id}/prompts", response={201: PromptOut, **errors(400)}, tags=["recipes"]
)
def override_prompt(
    request: HttpRequest, project_id: int, payload: PromptIn
) -> Status[dict[str, Any]]:
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        o = services.save_prompt_override(
            request.user, project, payload.recipe, payload.name, payload.text
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    t = prompts_for(o.recipe_id, project_id)[o.name]
    return Status(
        201,
        {
            "recipe": o.recipe_id,
            "name": o.name,
            "version": t.version,
            "text": t.text,
            "variables": sorted(t.variables),
        },
    )


def _run(request: HttpRequest, run_id: int, role: str = Role.VIEWER) -> Run:
    return object_for(request.user, Run.objects.all(), run_id, role)


def _recipe_params_doc() -> dict[str, Any]:
    """Each recipe's params schema, so the API docs show what `params` takes per recipe."""
    from generation.recipes.registry import all_recipes

    return {
        "description": "`params` depends on `recipe`; each recipe's schema and defaults are "
        "listed here (and by GET /api/v1/recipes).",
        "x-recipe-params": {r.id: r.Params.model_json_schema() for r in all_recipes()},
    }


@router.post(
    "/projects/{project_id}/runs",
    response={201: RunOut, **errors(400)},
    tags=["runs"],
    openapi_extra=_recipe_params_doc(),
)
def create_run(request: HttpRequest, project_id: int, payload: RunIn) -> Status[dict[str, Any]]:
    project = project_for(request.user, project_id, Role.CURATOR)

    def pick(model: Any, pk: int | None, what: str) -> Any:
        if pk is None:
            return None
        obj = model.objects.filter(pk=pk, project=project).first()
        if obj is None:
            raise HttpError(400, f"No {what} {pk} in this project.")
        return obj

    by_role = {role: pick(ModelEndpoint, pk, "endpoint") for role, pk in payload.endpoints.items()}
    try:
        run = services.start_run(
            request.user,
            project,
            recipe_id=payload.recipe,
            seed_set=pick(SeedSet, payload.seed_set, "seed set"),
            endpoint=pick(ModelEndpoint, payload.endpoint, "endpoint"),
            judge_endpoint=pick(ModelEndpoint, payload.judge_endpoint, "endpoint"),
            endpoints=by_role,
            params=payload.params,
            target_count=payload.target_count,
            budget_tokens=payload.budget_tokens,
            budget_cost=payload.budget_cost,
            futility_limit=payload.futility_limit,
            name=payload.name,
            previous_run=pick(Run, payload.previous_run, "run"),
            review_below=payload.review_below,
            spot_check=payload.spot_check,
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    run.refresh_from_db()
    return Status(201, run_summary(run))


@router.get("/projects/{project_id}/runs", response=list[RunOut], tags=["runs"])
def list_runs(request: HttpRequest, project_id: int) -> list[dict[str, Any]]:
    project = project_for(request.user, project_id)
    return run_summaries(project.runs.all()[:200])


@router.get("/runs/{run_id}", response=RunOut, tags=["runs"])
def get_run(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return run_summary(_run(request, run_id))


@router.get("/runs/{run_id}/report", response=dict[str, Any], tags=["runs"])
def run_report(request: HttpRequest, run_id: int) -> dict[str, Any]:
    """Run-level figures its recipe defines, e.g. ZeroGen's Self-BLEU ({} for most)."""
    return recipe_report(_run(request, run_id))


@router.get("/runs/{run_id}/items", response={200: RunItemPage, **errors(400)}, tags=["runs"])
def list_items(
    request: HttpRequest,
    run_id: int,
    outcome: Literal[""] | RunItem.Outcome = "",
    reason: str = param.Query("", max_length=64, pattern=NO_NUL),
    page: int = param.Query(1, ge=1, le=INT32_MAX),
    page_size: int = param.Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """The run's work items, newest first: `outcome=filtered&reason=rouge_l` shows why items
    made nothing, with the last model output of each (`raw_output`, truncated)."""
    run = _run(request, run_id)
    items = RunItem.objects.filter(run=run)
    if outcome:
        if outcome not in RunItem.Outcome.values:
            known = ", ".join(RunItem.Outcome.values)
            raise HttpError(400, f"Unknown outcome {outcome!r}; one of {known}.")
        items = items.filter(outcome=outcome)
    if reason:
        items = items.filter(reason=reason)
    fields = ("work_key", "outcome", "reason", "detail", "raw_output", "attempts", "created_at")
    return page_of(items.order_by("-id").only(*fields), page, page_size)


def _transition(request: HttpRequest, run_id: int, verb: Any) -> dict[str, Any]:
    run = _run(request, run_id, Role.CURATOR)
    try:
        run = verb(request.user, run)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return run_summary(run)


@router.post("/runs/{run_id}/pause", response={200: RunOut, **errors(409)}, tags=["runs"])
def pause_run(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return _transition(request, run_id, services.pause_run)


@router.post("/runs/{run_id}/resume", response={200: RunOut, **errors(409)}, tags=["runs"])
def resume_run(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return _transition(request, run_id, services.resume_run)


@router.post("/runs/{run_id}/cancel", response={200: RunOut, **errors(409)}, tags=["runs"])
def cancel_run(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return _transition(request, run_id, services.cancel_run)


@router.post("/runs/{run_id}/budget", response=RunOut, tags=["runs"])
def set_budget(request: HttpRequest, run_id: int, payload: BudgetIn) -> dict[str, Any]:
    run = _run(request, run_id, Role.CURATOR)
    return run_summary(
        services.set_budget(request.user, run, payload.budget_tokens, payload.budget_cost)
    )


@router.post(
    "/projects/{project_id}/judge", response={202: QueuedOut, **errors(400)}, tags=["runs"]
)
def judge(request: HttpRequest, project_id: int, payload: JudgeIn) -> Status[dict[str, int]]:
    project = project_for(request.user, project_id, Role.CURATOR)
    run = Run.objects.filter(pk=payload.run_id, project=project).first() if payload.run_id else None
    if payload.run_id and run is None:
        raise HttpError(400, f"No run {payload.run_id} in this project.")
    endpoint = None
    if payload.endpoint is not None:
        endpoint = ModelEndpoint.objects.filter(pk=payload.endpoint, project=project).first()
        if endpoint is None:
            raise HttpError(400, f"No endpoint {payload.endpoint} in this project.")
    try:
        n = services.judge_samples(
            request.user,
            project,
            sample_ids=payload.sample_ids,
            run=run,
            endpoint=endpoint,
            samples=payload.samples,
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(202, {"queued": n})
