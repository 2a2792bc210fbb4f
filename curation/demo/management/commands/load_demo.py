"""Create the demo users, project, seed sets, ready samples and local endpoint. Idempotent.

Seed sets, one per kind the recipes read (DEMO_SEED_SETS); ready samples (an SFT set, a
preference pair and classification rows) imported into a "Demo review" queue, so that the
review, duplicates and export pages have work before the first run ends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from curation.exports.services import import_dataset
from curation.projects import services
from curation.projects.models import Project, Role
from curation.review.queues import create_queue
from curation.seeds.services import import_seed_set

DEMO_SLUG = "demo"
DATA = Path(__file__).resolve().parents[2] / "data"
# name, file, kind (None: detected), description
DEMO_SEED_SETS = [
    ("Demo seeds", "instructions.jsonl", "instruction", "Forty varied tasks written for the demo."),
    ("Demo QA", "qa.jsonl", "qa", "Twelve short questions with gold answers, some with "
     "rationales (STaR, LMSI, Orca 2, CoT-Self-Instruct)."),
    ("Demo sentiment", "sentiment.jsonl", "labelled", "Twelve reviews labelled positive or "
     "negative (SuperGen, ZeroGen, SELF-GUIDE)."),
    ("Demo documents", "documents.jsonl", "document", "Four short articles: a knowledge "
     "source for retrieval (DataGen)."),
    ("Demo events", "events.jsonl", "text", "Twelve everyday events (Symbolic Knowledge "
     "Distillation)."),
    ("Demo words", "words.jsonl", "word_list", "Twenty concrete nouns: target words for "
     "SPAG's Adversarial Taboo."),
    ("Demo workflows", "workflows.jsonl", None, "Three agent workflows (two step lists, one "
     "branching graph) and six client personas in one set (Self-Talk)."),
    ("Demo personas", "personas.jsonl", "persona", "Eight people with name, description and "
     "attributes (age, job, goals, interests) (MATRIX)."),
    ("Demo CAMEL ideas", "camel_ideas.jsonl", "text", "Eight task ideas a Python programmer "
     "could help a stock trader with (CAMEL)."),
    ("Demo APIs", "api_docs.jsonl", "tool_spec", "Five documented APIs, two with model ids as "
     "enums (Gorilla)."),
    ("Demo tools", "tools.jsonl", "tool_spec", "Four tiny tools with Python implementations "
     "(add, word_count, celsius_to_fahrenheit, reverse_text) and seed QA examples (APIGen)."),
    ("Demo tool briefs", "tool_briefs.jsonl", "tool_spec", "Eight public-apis style tool "
     "briefs (name, one sentence, category) to be documented and simulated (ToolAlpaca)."),
    ("Demo images", "image_captions.jsonl", "document", "Eight scenes described in text: a "
     "caption and object boxes each (GPT4Tools)."),
    ("Demo KG", "kg_triples.jsonl", "kg_triple", "Sixty facts about twelve people in four "
     "towns: lives_in, works_at, located_in, friend_of, likes (KG2Tool)."),
    ("Demo IF constraints", "if_constraints.jsonl", "instruction", "Six atomic, "
     "code-checkable instructions (type constraint) and six short queries (AutoIF)."),
    ("Demo document questions", "doc_questions.jsonl", None, "The four demo documents and "
     "six questions about them (ReST meets ReAct)."),
    ("Demo GUI trajectories", "gui_trajectories.jsonl", "conversation", "Four human desktop "
     "trajectories as text (accessibility-tree observations and actions): rename a file, set "
     "an alarm, save an email draft, dark mode (PC Agent-E)."),
    ("Demo env tasks", "env_tasks.jsonl", "env_task", "Eleven agent tasks: five SQLite "
     "databases (select and update), three shell file tasks, three phone-world tasks with "
     "milestones and minefields (AgentTuning, Re-ReST)."),
]  # fmt: skip
READY = ["ready_sft.jsonl", "ready_preference.jsonl", "ready_classification.jsonl"]
REVIEW_QUEUE = "Demo review"
USERS = [
    ("demo-owner", Role.OWNER),
    ("demo-annotator-1", Role.ANNOTATOR),
    ("demo-annotator-2", Role.ANNOTATOR),
]


class Command(BaseCommand):
    help = "Load the demo project (idempotent). Passwords come from SEEDBED_DEMO_PASSWORD."

    def handle(self, *args: Any, **opts: Any) -> None:
        password = os.environ.get("SEEDBED_DEMO_PASSWORD", "")
        if not password:
            raise CommandError("Set SEEDBED_DEMO_PASSWORD (make run writes it to .env).")
        with transaction.atomic():
            users = {name: self._user(name, password) for name, _ in USERS}
            owner = users["demo-owner"]
            project = Project.objects.filter(slug=DEMO_SLUG).first()
            created = project is None
            if project is None:
                project = services.create_project(
                    owner,
                    "Demo",
                    "A small project to try Seedbed: hand-written seed sets for every "
                    "kind the recipes read, a few ready samples in a review queue, and "
                    "the local model as its endpoint.",
                )
                Project.objects.filter(pk=project.pk).update(slug=DEMO_SLUG)
                project.refresh_from_db()
            for name, role in USERS:
                if not project.memberships.filter(user=users[name]).exists():
                    services.set_member(owner, project, name, role)
            for name, filename, kind, description in DEMO_SEED_SETS:
                if not project.seed_sets.filter(name=name).exists():
                    import_seed_set(
                        owner,
                        project,
                        name=name,
                        data=(DATA / filename).read_bytes(),
                        filename=filename,
                        kind=kind,
                        description=description,
                    )
            self._ready_samples(owner, project)
            self._endpoint(owner, project)
        self.stdout.write(
            f"Demo project {'created' if created else 'up to date'} (id {project.pk})."
        )

    def _user(self, username: str, password: str) -> Any:
        user, _ = get_user_model().objects.get_or_create(username=username)
        if not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def _ready_samples(self, owner: Any, project: Project) -> None:
        """Import the ready samples once, with a queue over them (a user may delete both)."""
        if project.queues.filter(name=REVIEW_QUEUE).exists():
            return
        for filename in READY:
            import_dataset(owner, project, data=(DATA / filename).read_bytes(), filename=filename)
        create_queue(
            owner,
            project,
            name=REVIEW_QUEUE,
            filters={"statuses": ["pending"]},
            overlap=2,
            guidelines="Ready-made samples to try the review flow: accept what is correct "
            "and useful, reject the rest, fix small errors with Edit.",
        )

    def _endpoint(self, owner: Any, project: Project) -> None:
        if settings.SEEDBED_LLM_BASE_URL:
            base_url, name = settings.SEEDBED_LLM_BASE_URL, "external"
            model = settings.SEEDBED_LLM_MODEL or "default"
            key: str | None = settings.SEEDBED_LLM_API_KEY
            concurrency = 8
        elif settings.SEEDBED_LOCAL_MODEL != "off":
            from generation.localmodel import MODELS

            spec = MODELS.get(settings.SEEDBED_LOCAL_MODEL, MODELS["small"])
            base_url = f"http://127.0.0.1:{settings.SEEDBED_LLM_PORT}/v1"
            name, model, key, concurrency = "local", spec.alias, None, 4
        else:
            return
        existing = project.endpoints.filter(name=name).first()
        if existing and existing.base_url == base_url and existing.chat_model == model:
            return
        services.save_endpoint(
            owner,
            project,
            name=name,
            api_key=key,
            is_default=True,
            base_url=base_url,
            chat_model=model,
            judge_model=model,
            max_concurrency=concurrency,
        )
