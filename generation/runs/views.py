"""Pages for recipes, runs and prompts. Thin: load, check, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from generation import sandbox
from generation.recipes.registry import UnknownRecipe, get_recipe, prompts_for
from generation.runs import services
from generation.runs.forms import PromptForm, RunForm
from generation.runs.models import TERMINAL_STATUSES, Run
from generation.runs.presenters import (
    catalogue,
    need_warnings,
    reason_groups,
    recipe_report,
    run_summary,
)


@login_required
def run_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The project's runs, and the recipe catalogue to start one from (?output=, ?need=)."""
    membership = membership_for(request.user, project_id)
    template = "runs/run_list.html"
    if request.htmx:
        template += "#catalogue"
    ctx = {
        "project": membership.project,
        "runs": membership.project.runs.all()[:100],
        "catalogue": catalogue(request.GET.get("output", ""), request.GET.get("need", "")),
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, template, ctx)


@login_required
def run_new(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        recipe = get_recipe(
            request.GET.get("recipe") or request.POST.get("recipe") or "self_instruct"
        )
    except UnknownRecipe as exc:
        messages.error(request, str(exc))
        return redirect("runs:list", project.pk)
    info = recipe.describe()
    endpoints = list(project.endpoints.all())
    form = RunForm(project, info, endpoints, request.POST or None)
    if not form.is_bound:
        form.initial["seed_set"] = form.fields["seed_set"].queryset.first()  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            run = services.start_run(
                request.user,
                project,
                recipe_id=recipe.id,
                seed_set=d["seed_set"],
                endpoint=None,
                endpoints=form.endpoints(),
                params=form.params(),
                target_count=d["target_count"],
                budget_tokens=d["budget_tokens"],
                budget_cost=d["budget_cost"],
                futility_limit=d["futility_limit"],
                name=d["name"],
                previous_run=d["previous_run"],
                review_below=d["review_below"],
                spot_check=d["spot_check"] or 0.0,
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Started {run}.")
            return redirect("runs:detail", run.pk)
    ctx = {
        "project": project,
        "recipe": info,
        "form": form,
        "warnings": need_warnings(recipe, endpoints),
        "unprobed": [e for e in endpoints if not e.capabilities],
    }
    return render(request, "runs/run_new.html", ctx)


@login_required
def run_detail(request: AuthedRequest, run_id: int) -> HttpResponse:
    run = object_for(
        request.user,
        Run.objects.select_related("project", "seed_set", "endpoint", "judge_endpoint"),
        run_id,
    )
    membership = membership_for(request.user, run.project_id)
    template = "runs/run_detail.html"
    if request.htmx:
        template += "#progress"
    ctx = {
        "project": run.project,
        "run": run,
        "s": run_summary(run),
        "active": run.status not in TERMINAL_STATUSES and run.status != "paused",
        "samples": run.samples.order_by("-id")[:10],
        "can_curate": membership.has_role(Role.CURATOR),
        "filtered": sorted(run.filtered.items(), key=lambda kv: -kv[1]),
    }
    if not request.htmx:  # the examples sit outside the polled fragment
        ctx["reasons"] = reason_groups(run)
        ctx["report"] = recipe_report(run)
        ctx["sandbox"] = sandbox_limits(run)
    return render(request, template, ctx)


def sandbox_limits(run: Run) -> list[tuple[str, str]] | None:
    """The sandbox's limits, shown for a run whose recipe declares the SBX need."""
    try:
        needs = get_recipe(run.recipe_id, run.recipe_version).meta.needs
    except UnknownRecipe:
        return None
    return sandbox.describe() if any(n.code == "SBX" for n in needs) else None


@login_required
@require_POST
def run_action(request: AuthedRequest, run_id: int, action: str) -> HttpResponse:
    run = object_for(request.user, Run.objects.all(), run_id, Role.CURATOR)
    verbs = {
        "pause": services.pause_run,
        "resume": services.resume_run,
        "cancel": services.cancel_run,
    }
    if action == "judge":
        try:
            n = services.judge_samples(request.user, run.project, run=run)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Judging {n} samples; scores appear as they finish.")
        return redirect("runs:detail", run.pk)
    if action not in verbs:
        messages.error(request, f"Unknown action {action!r}.")
        return redirect("runs:detail", run.pk)
    try:
        verbs[action](request.user, run)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Run {action}d." if action != "pause" else "Run paused.")
    return redirect("runs:detail", run.pk)


@login_required
def prompts(request: AuthedRequest, project_id: int, recipe_id: str) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    try:
        recipe = get_recipe(recipe_id)
    except UnknownRecipe as exc:
        messages.error(request, str(exc))
        return redirect("runs:list", project_id)
    if request.method == "POST":
        project_for(request.user, project_id, Role.CURATOR)
        form = PromptForm(request.POST)
        name = request.POST.get("name", "")
        if form.is_valid():
            try:
                o = services.save_prompt_override(
                    request.user, membership.project, recipe.id, name, form.cleaned_data["text"]
                )
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Saved {name} as project version p{o.version}.")
                return redirect("runs:prompts", project_id, recipe.id)
    builtin = prompts_for(recipe.id, None)
    current = prompts_for(recipe.id, project_id)
    rows = [{"name": n, "current": t, "builtin": builtin[n]} for n, t in current.items()]
    ctx = {
        "project": membership.project,
        "recipe": recipe.describe(),
        "rows": rows,
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, "runs/prompts.html", ctx)
