from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.projects.models import ModelEndpoint, Project
from curation.projects.services import ServiceError
from generation.runs.models import TERMINAL_STATUSES, Run
from generation.runs.presenters import run_summary
from generation.runs.services import start_run


class Command(BaseCommand):
    help = "Start a recipe run (the worker executes it). --wait follows it to the end."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project id or slug.")
        parser.add_argument("--recipe", required=True)
        parser.add_argument("--seed-set", type=int, help="Seed set id.")
        parser.add_argument(
            "--endpoint",
            action="append",
            default=[],
            metavar="[ROLE=]ENDPOINT",
            help="Endpoint id or name for a role of the recipe, e.g. --endpoint judge=gpt "
            "(repeatable). Without ROLE= it is the policy endpoint (default: the project's).",
        )
        parser.add_argument("--judge-endpoint", help="Endpoint id or name (= --endpoint judge=).")
        parser.add_argument(
            "--futility-limit",
            type=int,
            help="Stop as failed after this many items in a row without a sample "
            "(default: max(200, 5 x target)).",
        )
        parser.add_argument("--target", type=int, default=100)
        parser.add_argument("--params", default="{}", help="Recipe params as JSON.")
        parser.add_argument("--budget-tokens", type=int)
        parser.add_argument("--budget-cost", type=Decimal)
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--previous-run",
            type=int,
            help="Run id this run follows as its next round (same recipe; e.g. on the "
            "endpoint trained on that round's export).",
        )
        parser.add_argument(
            "--review-below",
            type=float,
            help="Send samples judged with confidence below this (0-1) to a review queue; "
            "accept the rest automatically.",
        )
        parser.add_argument(
            "--spot-check",
            type=float,
            default=0.0,
            help="Share of the confident samples sent to review too (with --review-below).",
        )
        parser.add_argument("--user", help="Username recorded as starting it.")
        parser.add_argument("--wait", action="store_true", help="Print progress until it ends.")

    def handle(self, *args: Any, **o: Any) -> None:
        ref = o["project"]
        project = Project.objects.filter(
            **({"pk": int(ref)} if ref.isdigit() else {"slug": ref})
        ).first()
        if project is None:
            raise CommandError(f"No project {ref!r}.")
        try:
            params = json.loads(o["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc}") from exc
        actor = get_user_model().objects.filter(username=o["user"]).first() if o["user"] else None
        by_role = self._roles(project, o["endpoint"])
        try:
            run = start_run(
                actor,
                project,
                recipe_id=o["recipe"],
                seed_set=project.seed_sets.filter(pk=o["seed_set"]).first()
                if o["seed_set"]
                else None,
                endpoint=None,
                judge_endpoint=self._endpoint(project, o["judge_endpoint"]),
                endpoints=by_role,
                params=params,
                target_count=o["target"],
                budget_tokens=o["budget_tokens"],
                budget_cost=o["budget_cost"],
                futility_limit=o["futility_limit"],
                name=o["name"],
                previous_run=self._previous(project, o["previous_run"]),
                review_below=o["review_below"],
                spot_check=o["spot_check"],
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        roles = ", ".join(f"{r}={e['name']}" for r, e in run_summary(run)["endpoints"].items())
        self.stdout.write(
            f"Started run {run.pk} ({run.recipe_id}, target {run.target_count}; {roles})."
        )
        if o["wait"]:
            while True:
                run = Run.objects.get(pk=run.pk)
                s = run_summary(run)
                self.stdout.write(
                    f"{s['status']}: {s['produced']}/{s['target']} "
                    f"filtered={s['filtered_total']} failed={s['failed']}"
                )
                if run.status in TERMINAL_STATUSES:
                    break
                time.sleep(2)
            self.stdout.write(json.dumps(s, default=str))

    def _previous(self, project: Project, pk: int | None) -> Run | None:
        if pk is None:
            return None
        run = project.runs.filter(pk=pk).first()
        if run is None:
            raise CommandError(f"No run {pk} in project {project.slug}.")
        return run

    def _roles(self, project: Project, refs: list[str]) -> dict[str, ModelEndpoint]:
        """`--endpoint judge=gpt --endpoint local` → {"judge": gpt, "policy": local}."""
        by_role: dict[str, ModelEndpoint] = {}
        for ref in refs:
            role, sep, name = ref.partition("=")
            role, name = (role.strip(), name.strip()) if sep else ("policy", ref.strip())
            if not role or not name:
                raise CommandError(f"--endpoint {ref!r}: write ROLE=ENDPOINT or ENDPOINT.")
            if role in by_role:
                raise CommandError(f"--endpoint names the {role} role twice.")
            by_role[role] = self._find(project, name)
        return by_role

    def _endpoint(self, project: Project, ref: str | None) -> ModelEndpoint | None:
        return self._find(project, ref) if ref else None

    def _find(self, project: Project, ref: str) -> ModelEndpoint:
        found = project.endpoints.filter(
            **({"pk": int(ref)} if ref.isdigit() else {"name": ref})
        ).first()
        if found is None:
            raise CommandError(f"No endpoint {ref!r} in {project}.")
        return found
