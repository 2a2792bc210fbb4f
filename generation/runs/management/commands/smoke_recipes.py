"""Run every registered recipe for a few samples against a project's real endpoint.

`make smoke-recipes` calls it on the demo project with the local model, after `make run`
started the worker. Recipes run one after another, each on the first seed set (in SEED_SETS
order) that holds the kinds it reads. One line per recipe: its outcome, samples, seconds
and, when it did not complete, why. Not part of `make test`: it takes minutes and its
outcomes depend on the model.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.seeds.models import SeedSet
from generation.recipes.registry import all_recipes
from generation.runs import services
from generation.runs.models import TERMINAL_STATUSES, Run, RunStatus

# The demo's seed sets: a recipe takes the first it can read, or the one named for it.
SEED_SETS = ["Demo seeds", "Demo QA", "Demo sentiment", "Demo events", "Demo documents"]
PREFERRED = {
    "orca2": "Demo QA",
    "cot_self_instruct": "Demo QA",
    "symbolic_kd": "Demo events",
    "self_guide": "Demo sentiment",
    "spin": "Demo QA",
    "backtranslation": "Demo documents",
    "spag": "Demo words",
    "camel": "Demo CAMEL ideas",
    "self_talk": "Demo workflows",
    "matrix": "Demo personas",
    "apigen": "Demo tools",
    "gorilla": "Demo APIs",
    "toolgrad": "Demo tools",
    "toolalpaca": "Demo tool briefs",
    "gpt4tools": "Demo images",
    "kg2tool": "Demo KG",
    "auto_if": "Demo IF constraints",
    "toolformer": "Demo documents",
    "apigen_mt": "Demo personas",
    "magnet": "Demo tools",
    "tora": "Demo QA",
    "codeact": "Demo QA",
    "rest_react": "Demo document questions",
    "agentinstruct": "Demo documents",
    "pc_agent_e": "Demo GUI trajectories",
    "agenttuning": "Demo env tasks",
    "re_rest": "Demo env tasks",
}
# Where the paper's constants make one item take minutes on a 0.5B CPU model (32 or 16
# samples per question), or make it futile (I-SHEEP keeps self-scores > 8 of 10): smaller
# or looser here, and printed with the outcome.
SMOKE_PARAMS: dict[str, dict[str, Any]] = {
    "lmsi": {"m": 4},
    "cot_self_instruct": {"k": 4},
    "i_sheep": {"quality_above": 5, "following_above": 5},
    "zerogen": {"samples": 4},
    "supergen": {"generations": 8, "keep": 2},
    # One local model plays both CodecLM roles: the strong-vs-target gap is noise, and its
    # Self-Rubrics rounds take ~25 calls per seed.
    "codeclm": {"gap": 0, "rubric_rounds": 1, "max_tokens": 256},
    # EvolKit's defaults make ~150 calls before the first sample.
    "auto_evol_instruct": {
        "optimize_steps": 1, "mini_batch": 2, "evolve_steps": 1, "n_methods": 2, "dev_size": 2
    },
    # Preference recipes: fewer responses and shorter answers, judged twice (a spread).
    "spin": {"max_tokens": 128},
    "meta_rewarding": {"n_responses": 3, "judge_samples": 3, "max_tokens": 256,
                       "meta_max_tokens": 256},
    "spa": {"max_tokens": 256},
    # A 0.5B model copies the shown prompts and ignores random keywords: zero-shot, one of them.
    "synpo": {"draft_shots": False, "generator_shots": 0, "improver_shots": 1,
              "max_tokens": 384, "min_keywords": 1, "soft_labels": True},
    "udasa": {"n_responses": 3, "judge_samples": 2, "max_tokens": 192},
    "magpie": {"response_max_tokens": 512},
    "ultrafeedback": {"n_responses": 2, "judge_samples": 2, "shuffle_per_sample": False,
                      "max_tokens": 256, "judge_max_tokens": 384, "min_aspects": 2},
    # The demo has a handful of short documents, and the 0.5B judge rates them 3-4 of 5.
    "backtranslation": {"judge_samples": 2, "keep_threshold": 3.0, "min_segment_words": 10},
    # Multi-agent recipes: short conversations and turns.
    "spag": {"max_turns": 3, "temperature": 0.7, "max_tokens": 96},
    "camel": {"max_messages": 8, "max_tokens": 384},
    "self_talk": {"max_turns": 8, "max_tokens": 120, "min_completion": 0.25,
                  "require_ending": False, "min_consistency": 2.0, "judge_samples": 2},
    "matrix": {"n_agents": 4, "rounds": 2, "modulator": "rule", "max_tokens": 256,
               "min_grounded": 2.0},
    "gra": {"n_reviewers": 2, "max_tokens": 384},
    "gorilla": {"pairs_per_api": 3, "examples": 2, "max_tokens": 768, "temperature": 0.7},
    "apigen": {"n_queries": 2, "query_styles": ["simple", "parallel"], "judge_samples": 2,
               "max_tokens": 512},
    "toolgrad": {"steps": 2, "batch_size": 4, "judge_samples": 1, "judge_threshold": 3.0,
                 "max_tokens": 384},
    "toolalpaca": {"instructions_per_tool": 1, "max_functions": 2, "max_steps": 2,
                   "doc_tokens": 768, "step_tokens": 256, "result_chars": 600},
    "gpt4tools": {"tools_per_item": 3, "max_steps": 2, "max_tokens": 384, "temperature": 0.7},
    "kg2tool": {"patterns": ["1p", "2p", "2i", "2in"], "max_tools": 10, "max_tokens": 96,
                "temperature": 0.5},
    "auto_if": {"verifiers": 4, "min_verifiers": 2, "min_cases": 6, "queries": 2,
                "responses": 2, "nli_checks": 1, "judge_samples": 1, "new_instructions": 0,
                "max_tokens": 384},
    # Needs prompt logprobs (PLP): on the local llama.cpp server it is refused at once.
    "toolformer": {"tools": ["calculator", "qa"], "top_k": 2, "calls_per_position": 2,
                   "max_words": 20},
    # Agent recipes: short episodes, one trial, one reviewer.
    "apigen_mt": {"committee": 1, "max_attempts": 2, "trials": 1, "max_user_turns": 3,
                  "max_agent_steps": 3, "max_tokens": 384},
    "magnet": {"path_length": 2, "op_rate": 0.5, "max_steps": 3, "max_tokens": 256},
    "tora": {"samples": 2, "keep": 1, "max_rounds": 2, "max_tokens": 256},
    "codeact": {"max_tokens": 256},
    "rest_react": {"n_trajectories": 2, "max_searches": 1, "rank_orders": 1, "step_tokens": 192},
    "agentinstruct": {"skills": ["reading_comprehension"], "types_per_item": 3,
                      "refinements": 1, "judge_samples": 1, "min_words": 20, "max_tokens": 512},
    "pc_agent_e": {"alternatives": 2, "max_tokens": 300},
    "agenttuning": {"max_steps": 4, "step_tokens": 160, "observation_chars": 600},
    "re_rest": {"k": 1, "max_steps": 4, "step_tokens": 160, "observation_chars": 600},
}  # fmt: skip


class Command(BaseCommand):
    help = "Run each recipe for a few samples on a project's default endpoint; one line each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", default="demo", help="Project id or slug.")
        parser.add_argument("--recipes", default="", help="Comma-separated ids (default: all).")
        parser.add_argument("--target", type=int, default=2)
        parser.add_argument("--timeout", type=float, default=600.0, help="Seconds per recipe.")
        parser.add_argument("--futility-limit", type=int, default=20)

    def handle(self, *args: Any, **o: Any) -> None:
        ref = o["project"]
        project = Project.objects.filter(
            **({"pk": int(ref)} if ref.isdigit() else {"slug": ref})
        ).first()
        if project is None:
            raise CommandError(f"No project {ref!r} (make run loads the demo).")
        owner = project.memberships.filter(role="owner").first()
        actor = owner.user if owner else None
        wanted = [r for r in o["recipes"].split(",") if r]
        recipes = [r for r in all_recipes() if not wanted or r.meta.id in wanted]
        if wanted and len(recipes) != len(wanted):
            known = {r.meta.id for r in recipes}
            raise CommandError(f"Unknown recipes: {', '.join(sorted(set(wanted) - known))}.")
        done = 0
        for recipe in recipes:
            line, ok = self._one(project, actor, recipe, o)
            done += ok
            self.stdout.write(line)
        self.stdout.write(f"{done} of {len(recipes)} recipes completed.")

    def _one(
        self, project: Project, actor: Any, recipe: Any, o: dict[str, Any]
    ) -> tuple[str, bool]:
        rid = recipe.meta.id
        valid = SMOKE_PARAMS.get(rid, {})
        unknown = set(valid) - set(recipe.Params.model_fields)
        if unknown:  # a renamed param must not silently stop applying
            raise CommandError(f"SMOKE_PARAMS[{rid!r}] names unknown params: {sorted(unknown)}")
        seed_set = self._seed_set(project, recipe)
        started = time.monotonic()
        try:
            run = services.start_run(
                actor,
                project,
                recipe_id=rid,
                endpoint=None,
                seed_set=seed_set,
                params=valid,
                target_count=o["target"],
                futility_limit=o["futility_limit"],
                name=f"smoke {rid}",
            )
        except ServiceError as exc:
            return f"{rid:<22} not started  {exc}", False
        while run.status not in TERMINAL_STATUSES:
            if time.monotonic() - started > o["timeout"]:
                services.cancel_run(actor, run)
                run.refresh_from_db()
                break
            time.sleep(1.0)
            run.refresh_from_db()
        seconds = time.monotonic() - started
        ok = run.status == RunStatus.COMPLETED
        why = "" if ok else self._why(run, seconds > o["timeout"])
        where = seed_set.name if seed_set else "no seeds"
        extra = f" params {json.dumps(valid)}" if valid else ""
        return (
            f"{rid:<22} {run.status:<10} {run.produced}/{run.target_count} "
            f"{seconds:6.1f} s  [{where}{extra}]{('  ' + why) if why else ''}",
            ok,
        )

    def _seed_set(self, project: Project, recipe: Any) -> SeedSet | None:
        sets = SeedSet.objects.filter(project=project)
        if recipe.meta.inputs:
            sets = sets.accepting(recipe.meta.inputs)
        by_name = {s.name: s for s in sets}
        for name in [PREFERRED.get(recipe.meta.id, ""), *SEED_SETS]:
            if name in by_name:
                return by_name[name]
        return sets.order_by("pk").first() if recipe.meta.needs_seed_set else None

    def _why(self, run: Run, timed_out: bool) -> str:
        filtered = sorted(run.filtered.items(), key=lambda kv: -kv[1])[:3]
        reasons = ", ".join(f"{k} {v}" for k, v in filtered)
        head = "timed out" if timed_out else (run.last_error.splitlines() or [""])[0][:160]
        return "; ".join(p for p in (head, f"filtered: {reasons}" if reasons else "") if p)
