"""How runs and recipes look from outside, shared by the API, the pages and the command.

`run_summary` is a run's progress, rates and ETA; `run_summaries` the same for many runs
with their endpoints loaded in one query. `catalogue` groups the registered recipes by the
seed list's sections and filters them by output kind and need, from `describe()` alone (no
queries). `reason_groups` is why a run's items were filtered or failed, with examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from curation.projects.models import ModelEndpoint
from generation.recipes.kit.recipe import BEYOND, SECTIONS, Recipe, entry_order
from generation.recipes.registry import UnknownRecipe, all_recipes, get_recipe
from generation.runs.models import Run, RunItem, RunStatus
from generation.runs.roles import run_mapping

# The seed list (METHODS.md §1) has this many entries; the catalogue says how many we have.
METHODS_ENTRIES = 60
OUTPUT_KINDS = ("sft", "preference", "classification", "conversation", "tool_trajectory")
# METHODS.md §0.2, short, for the catalogue's need filter.
NEED_LABELS = {
    "N": "n>1 sampling",
    "LP": "output-token logprobs",
    "PLP": "logprobs of a given text",
    "EMB": "embeddings",
    "TOOLS": "tool calls",
    "SBX": "sandboxed code execution",
    "RT": "a real tool/API runtime",
    "ENV": "an interactive environment",
    "MM": "two or more models",
    "VLM": "a vision-language model",
    "RET": "retrieval / web search",
    "KG": "a graph store",
    "CLS": "a small classifier",
    "FT": "fine-tuning",
    "COMP": "the /v1/completions API",
}
NO_NEEDS = "none"  # ?need=none: recipes that need nothing beyond chat completion


def recipe_report(run: Run) -> dict[str, Any]:
    """The recipe's run-level figures ({} when its version is gone or it defines none)."""
    try:
        recipe = get_recipe(run.recipe_id, run.recipe_version)
    except UnknownRecipe:
        return {}
    return type(recipe).report(run)


def run_summary(run: Run, endpoints: dict[int, ModelEndpoint] | None = None) -> dict[str, Any]:
    rate = run.produced / run.active_seconds if run.active_seconds > 0 and run.produced else None
    remaining = max(0, run.target_count - run.produced)
    eta = remaining / rate if rate and run.status in (RunStatus.RUNNING, RunStatus.QUEUED) else None
    # policy first, then the other roles by name (jsonb does not keep the order they came in)
    mapping = dict(sorted(run_mapping(run).items(), key=lambda kv: (kv[0] != "policy", kv[0])))
    if endpoints is None:
        endpoints = ModelEndpoint.objects.in_bulk(set(mapping.values()))
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
        "endpoints": {role: _endpoint_ref(pk, endpoints.get(pk)) for role, pk in mapping.items()},
        "futility_limit": run.futility_limit,
        "notes": dict((run.state or {}).get("kit", {}).get("notes", {})),
        "previous_run": run.previous_run_id,
        "round": run.round,
        "review_below": run.review_below,
        "spot_check": run.spot_check,
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


def run_summaries(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """Summaries of many runs; their endpoints come in one query, not one per run."""
    runs = list(runs)
    ids = {pk for run in runs for pk in run_mapping(run).values()}
    endpoints = ModelEndpoint.objects.in_bulk(ids) if ids else {}
    return [run_summary(run, endpoints) for run in runs]


def _endpoint_ref(pk: int, endpoint: ModelEndpoint | None) -> dict[str, Any]:
    if endpoint is None:  # deleted since (runs protect theirs, but JSON ids are not FKs)
        return {"id": pk, "name": "", "model": ""}
    return {"id": pk, "name": endpoint.name, "model": endpoint.chat_model}


# -- the recipe catalogue ----------------------------------------------------------------------


def output_kinds(output: str) -> list[str]:
    """ "sft+preference" → ["sft", "preference"]."""
    return [part.strip() for part in output.split("+") if part.strip()]


def matches(info: dict[str, Any], output: str = "", need: str = "") -> bool:
    """Whether a describe() dict passes the catalogue filters (blank = any)."""
    if output and output not in output_kinds(info["output_kind"]):
        return False
    codes = {n["code"] for n in info["needs"]}
    if need == NO_NEEDS:
        return not codes
    return not need or need.upper() in codes


def describe_recipes(recipes: Sequence[type[Recipe[Any]]] | None = None) -> list[dict[str, Any]]:
    return [r.describe() for r in (all_recipes() if recipes is None else recipes)]


@dataclass
class Catalogue:
    sections: list[dict[str, Any]]  # {"id", "title", "cards"}, in SECTIONS order, non-empty
    shown: int
    total: int
    beyond: int = 0  # recipes beyond the seed list (B1, B2, …)
    entries: int = METHODS_ENTRIES
    outputs: list[str] = field(default_factory=list)
    needs: list[tuple[str, str]] = field(default_factory=list)  # (code, label)
    output: str = ""
    need: str = ""

    @property
    def seed_list(self) -> int:
        return self.total - self.beyond

    @property
    def filtered(self) -> bool:
        return bool(self.output or self.need)


def catalogue(output: str = "", need: str = "") -> Catalogue:
    infos = describe_recipes()
    present_outputs = {k for i in infos for k in output_kinds(i["output_kind"])}
    outputs = [k for k in OUTPUT_KINDS if k in present_outputs]
    outputs += sorted(present_outputs - set(outputs))
    codes = sorted({n["code"] for i in infos for n in i["needs"]})
    needs = [(c, NEED_LABELS.get(c, c)) for c in codes] + [(NO_NEEDS, "nothing beyond chat")]
    shown = [i for i in infos if matches(i, output, need)]
    sections = []
    for key, title in SECTIONS.items():
        cards = sorted(
            (i for i in shown if i["section"] == key), key=lambda i: entry_order(i["methods_entry"])
        )
        if cards:
            sections.append({"id": key, "title": title, "cards": cards})
    return Catalogue(
        sections=sections,
        shown=len(shown),
        total=len(infos),
        beyond=sum(1 for i in infos if i["section"] == BEYOND),
        outputs=outputs,
        needs=needs,
        output=output,
        need=need,
    )


# -- why items were filtered -------------------------------------------------------------------

EXAMPLES_PER_REASON = 3
TOP_REASONS = 8


def reason_groups(run: Run) -> list[dict[str, Any]]:
    """The top filter and failure reasons by count, each with up to 3 recent example items.

    Counts of filtered items come from `run.filtered` (a reason may also be counted for
    drafts dropped inside an item that produced others, which leave no item row); failed
    ones from the items. Two queries, whatever the number of reasons.
    """
    counts: list[tuple[str, str, int]] = [
        (RunItem.Outcome.FILTERED, reason, int(n)) for reason, n in (run.filtered or {}).items()
    ]
    failed = (
        RunItem.objects.filter(run=run, outcome=RunItem.Outcome.FAILED)
        .values("reason")
        .annotate(n=Count("id"))
    )
    counts += [(RunItem.Outcome.FAILED, row["reason"], row["n"]) for row in failed]
    counts.sort(key=lambda c: (-c[2], c[0], c[1]))
    top = counts[:TOP_REASONS]
    if not top:
        return []
    wanted = Q()
    for outcome, reason, _n in top:
        wanted |= Q(outcome=outcome, reason=reason)
    ranked = (
        RunItem.objects.filter(run=run)
        .filter(wanted)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("outcome"), F("reason")], order_by=F("id").desc()
            )
        )
        .filter(rank__lte=EXAMPLES_PER_REASON)
        .only("id", "work_key", "outcome", "reason", "detail", "raw_output", "attempts")
        .order_by("outcome", "reason", "rank")
    )
    examples: dict[tuple[str, str], list[RunItem]] = {}
    for item in ranked:
        examples.setdefault((item.outcome, item.reason), []).append(item)
    return [
        {
            "outcome": outcome,
            "reason": reason or "(no reason)",
            "count": n,
            "examples": examples.get((outcome, reason), []),
        }
        for outcome, reason, n in top
    ]


# -- what a recipe needs of the project's endpoints --------------------------------------------


def need_warnings(recipe: Recipe[Any], endpoints: Iterable[ModelEndpoint]) -> list[dict[str, Any]]:
    """Each of the recipe's needs that some endpoint is known to lack ("Test connection"
    found it missing). The service refuses such a run; the form says so beforehand."""
    from generation.runs.services import NEED_CAPABILITY

    endpoints = list(endpoints)
    out = []
    for need in recipe.meta.needs:
        capability = NEED_CAPABILITY.get(need.code)
        if capability is None:
            continue
        lacking = [e for e in endpoints if (e.capabilities or {}).get(capability) is False]
        if lacking:
            out.append(
                {
                    "code": need.code,
                    "why": need.why,
                    "fallback": need.fallback,
                    "role": need.role,
                    "conditional": need.when is not None,
                    "capability": capability,
                    "lacking": lacking,
                }
            )
    return out
