"""Verbs on runs, prompt overrides and judging. Each is atomic, audited, and enqueues on commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from curation.projects import audit
from curation.projects.models import ModelEndpoint, Project
from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.models import SeedSet
from generation.recipes.prompts import PromptError, validate_override
from generation.recipes.registry import UnknownRecipe, get_recipe, prompts_for
from generation.runs import roles
from generation.runs.models import PromptOverride, Run, RunStatus


def _enqueue_drive(run_id: int) -> None:
    from generation.runs.tasks import drive_run

    transaction.on_commit(lambda: drive_run.delay(run_id))


def params_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "params"
        parts.append(f"{where}: {err['msg']}")
    return "Invalid params: " + "; ".join(parts)


def start_run(
    actor: Any,
    project: Project,
    *,
    recipe_id: str,
    endpoint: ModelEndpoint | None,
    seed_set: SeedSet | None = None,
    judge_endpoint: ModelEndpoint | None = None,
    endpoints: dict[str, ModelEndpoint] | None = None,
    params: dict[str, Any] | None = None,
    target_count: int = 100,
    budget_tokens: int | None = None,
    budget_cost: Decimal | None = None,
    futility_limit: int | None = None,
    name: str = "",
    previous_run: Run | None = None,
    review_below: float | None = None,
    spot_check: float = 0.0,
) -> Run:
    """Start a run. `endpoints` maps the recipe's roles to endpoints; `endpoint` and
    `judge_endpoint` are the policy and judge roles (the shape older callers use).
    `previous_run` makes this run the next round of that one (same project and recipe).
    `review_below` c: samples judged with confidence below c go to a review queue, the rest
    are accepted automatically; `spot_check` of those go to the queue as well."""
    try:
        recipe = get_recipe(recipe_id)
    except UnknownRecipe as exc:
        raise ServiceError(str(exc)) from exc
    try:
        clean = recipe.Params.model_validate(params or {})
    except ValidationError as exc:
        raise ServiceError(params_error(exc)) from exc
    if target_count < 1:
        raise ServiceError("The target count must be at least 1.")
    by_role = dict(endpoints or {})
    if endpoint is not None:
        by_role.setdefault("policy", endpoint)
    if judge_endpoint is not None:
        by_role.setdefault("judge", judge_endpoint)
    if "policy" not in by_role:
        default = ModelEndpoint.objects.filter(project=project, is_default=True).first()
        if default is None:
            raise ServiceError("Choose a model endpoint (the project has no default).")
        by_role["policy"] = default
    for e in by_role.values():
        if e.project_id != project.pk:
            raise ServiceError("That endpoint belongs to another project.")
    try:
        resolved = roles.resolve(recipe.meta.roles, {r: e.pk for r, e in by_role.items()})
    except roles.RoleError as exc:
        raise ServiceError(str(exc)) from exc
    check_needs(recipe, clean, {r: by_role.get(r) for r in resolved}, resolved)
    if seed_set is not None and seed_set.project_id != project.pk:
        raise ServiceError("That seed set belongs to another project.")
    if recipe.needs_seed_set and seed_set is None:
        raise ServiceError(f"{recipe.name} needs a seed set.")
    if seed_set is not None:
        check_inputs(recipe, seed_set)
    try:
        type(recipe).check_start(clean, seed_set)
    except ValueError as exc:
        raise ServiceError(str(exc)) from exc
    if budget_tokens is not None and budget_tokens < 1:
        raise ServiceError("A token budget must be positive.")
    if budget_cost is not None and budget_cost <= 0:
        raise ServiceError("A cost budget must be positive.")
    if futility_limit is not None and futility_limit < 1:
        raise ServiceError("The futility limit must be at least 1 item.")
    check_routing(review_below, spot_check)
    if previous_run is not None and previous_run.project_id != project.pk:
        raise ServiceError("The previous round belongs to another project.")
    if previous_run is not None and previous_run.recipe_id != recipe.id:
        raise ServiceError(
            f"Run {previous_run.pk} used {previous_run.recipe_id}; a next round uses the "
            "same recipe."
        )
    with transaction.atomic():
        run = Run.objects.create(
            project=project,
            name=name[:200],
            recipe_id=recipe.id,
            recipe_version=recipe.version,
            params=clean.model_dump(),
            seed_set=seed_set,
            endpoint=by_role["policy"],
            judge_endpoint=by_role.get("judge"),
            endpoints=resolved,
            target_count=target_count,
            budget_tokens=budget_tokens,
            budget_cost=budget_cost,
            futility_limit=futility_limit,
            previous_run=previous_run,
            round=previous_run.round + 1 if previous_run is not None else 1,
            review_below=review_below,
            spot_check=spot_check,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            # Prompt versions are pinned: a resumed run never switches to newer ones.
            state={
                "prompts": {n: t.version for n, t in prompts_for(recipe.id, project.pk).items()}
            },
        )
        audit.record(
            actor,
            "run.start",
            run,
            project=project,
            after={
                "recipe": recipe.id,
                "version": recipe.version,
                "target": target_count,
                "params": clean.model_dump(),
                "endpoints": resolved,
                **({"previous_run": previous_run.pk} if previous_run is not None else {}),
                **(
                    {"review_below": review_below, "spot_check": spot_check}
                    if review_below is not None
                    else {}
                ),
            },
        )
        _enqueue_drive(run.pk)
    return run


def check_routing(review_below: float | None, spot_check: float) -> None:
    if review_below is not None and not 0.0 < review_below <= 1.0:
        raise ServiceError("Review below: a judge confidence between 0 and 1 (e.g. 0.8).")
    if not 0.0 <= spot_check <= 1.0:
        raise ServiceError("Spot check: a share between 0 and 1 (e.g. 0.05 for 5 %).")
    if spot_check and review_below is None:
        raise ServiceError("A spot check needs a review threshold (review below c).")


def seed_set_kinds(seed_set: SeedSet) -> set[str]:
    kinds = getattr(seed_set, "kinds", None)
    if kinds:
        return set(kinds)
    return set(seed_set.seeds.values_list("kind", flat=True).distinct())


def check_inputs(recipe: Any, seed_set: SeedSet) -> None:
    """Every kind of seed in the set must be one the recipe reads."""
    accepted = recipe.meta.inputs
    if not accepted:
        return
    kinds = seed_set_kinds(seed_set)
    if not kinds:
        raise ServiceError(f"The seed set {seed_set.name!r} is empty.")
    wrong = sorted(kinds - accepted)
    if wrong:
        raise ServiceError(
            f"{recipe.name} reads seeds of kind {', '.join(sorted(accepted))}; the seed set "
            f"{seed_set.name!r} has {', '.join(wrong)}."
        )


def check_needs(
    recipe: Any, params: Any, by_role: dict[str, ModelEndpoint | None], resolved: dict[str, int]
) -> None:
    """Refuse a run whose endpoint is known to lack a need (METHODS.md §0.2) the recipe has.

    Only probed capabilities count ("Test connection"); an endpoint never probed is trusted,
    and the run finds out at its first call. N is always met: llm.py sends single requests.
    """
    endpoints = {e.pk: e for e in ModelEndpoint.objects.filter(pk__in=set(resolved.values()))}
    for need in recipe.needs(params):
        capability = NEED_CAPABILITY.get(need.code)
        endpoint = endpoints.get(resolved.get(need.role) or resolved["policy"])
        if capability is None or endpoint is None:
            continue
        caps = endpoint.capabilities or {}
        if caps.get(capability) is False:
            fallback = f" Fallback: {need.fallback}." if need.fallback else ""
            raise ServiceError(
                f"{recipe.name} needs {need.code} ({need.why}) from the {need.role} endpoint, "
                f"and {endpoint.name!r} does not offer it ({capability}).{fallback}"
            )


# Needs an endpoint can lack, and the capability "Test connection" records for each. EMB is
# not among them: DEDUP-E embeds with Seedbed's own embedder (kit/pools.py, local MiniLM),
# never with the recipe's endpoints, so no endpoint can lack it.
NEED_CAPABILITY = {
    "LP": "logprobs",
    "PLP": "prompt_logprobs",
    "TOOLS": "tools",
    "COMP": "completions",
}


DONE = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


def _move(actor: Any, run: Run, to: str, verb: str, **extra: Any) -> Run:
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if not locked.can_move_to(to):
            state = locked.get_status_display().lower()
            raise ServiceError(f"A {state} run cannot be {DONE[verb]}.")
        before = locked.status
        locked.status = to
        fields = ["status"]
        if to in (RunStatus.CANCELLED,):
            locked.finished_at = timezone.now()
            fields.append("finished_at")
        for k, v in extra.items():
            setattr(locked, k, v)
            fields.append(k)
        locked.save(update_fields=fields)
        audit.record(
            actor,
            f"run.{verb}",
            locked,
            project=locked.project_id,
            before={"status": before},
            after={"status": to},
        )
        if to == RunStatus.QUEUED:
            _enqueue_drive(locked.pk)
    return locked


def pause_run(actor: Any, run: Run) -> Run:
    return _move(actor, run, RunStatus.PAUSED, "pause")


def resume_run(actor: Any, run: Run) -> Run:
    if run.status == RunStatus.BUDGET_EXHAUSTED and not _budget_left(run):
        raise ServiceError("Raise the budget before resuming: it is spent.")
    return _move(actor, run, RunStatus.QUEUED, "resume", last_error="", finished_at=None)


def cancel_run(actor: Any, run: Run) -> Run:
    return _move(actor, run, RunStatus.CANCELLED, "cancel")


def set_budget(actor: Any, run: Run, budget_tokens: int | None, budget_cost: Decimal | None) -> Run:
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        before = {"tokens": locked.budget_tokens, "cost": str(locked.budget_cost)}
        locked.budget_tokens, locked.budget_cost = budget_tokens, budget_cost
        locked.save(update_fields=["budget_tokens", "budget_cost"])
        audit.record(
            actor,
            "run.budget",
            locked,
            project=locked.project_id,
            before=before,
            after={"tokens": budget_tokens, "cost": str(budget_cost)},
        )
    return locked


def _budget_left(run: Run) -> bool:
    from generation.runs.store import budget_exhausted

    return not budget_exhausted(run)


def save_prompt_override(
    actor: Any, project: Project, recipe_id: str, name: str, text: str
) -> PromptOverride:
    try:
        recipe = get_recipe(recipe_id)
    except UnknownRecipe as exc:
        raise ServiceError(str(exc)) from exc
    base = prompts_for(recipe_id, None).get(name)
    if base is None:
        raise ServiceError(f"{recipe.name} has no prompt named {name!r}.")
    try:
        validate_override(base, text)
        recipe.validate_prompt(name, text)
    except PromptError as exc:
        raise ServiceError(str(exc)) from exc
    with transaction.atomic():
        last = (
            PromptOverride.objects.select_for_update()
            .filter(project=project, recipe_id=recipe_id, name=name)
            .order_by("-version")
            .first()
        )
        override = PromptOverride.objects.create(
            project=project,
            recipe_id=recipe_id,
            name=name,
            version=(last.version + 1) if last else 1,
            text=text,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(
            actor,
            "prompt.override",
            override,
            project=project,
            after={"recipe": recipe_id, "name": name, "version": override.version},
        )
    return override


def judge_samples(
    actor: Any,
    project: Project,
    *,
    sample_ids: list[int] | None = None,
    run: Run | None = None,
    endpoint: ModelEndpoint | None = None,
    samples: int = 3,
) -> int:
    """Queue the additive-rubric judge over a selection; Judgements are written as they finish."""
    qs = Sample.objects.filter(project=project)
    if run is not None:
        qs = qs.filter(run=run)
    if sample_ids is not None:
        qs = qs.filter(pk__in=sample_ids)
    ids = list(qs.order_by("id").values_list("id", flat=True))
    if not ids:
        raise ServiceError("No samples to judge.")
    endpoint = endpoint or ModelEndpoint.objects.filter(project=project, is_default=True).first()
    if endpoint is None or endpoint.project_id != project.pk:
        raise ServiceError("Choose a judge endpoint of this project.")
    from generation.runs.tasks import judge_samples_task

    with transaction.atomic():
        audit.record(
            actor,
            "samples.judge",
            endpoint,
            project=project,
            after={"samples": len(ids), "run": run.pk if run else None},
        )
        transaction.on_commit(
            lambda: judge_samples_task.delay(project.pk, ids, endpoint.pk, samples)
        )
    return len(ids)
