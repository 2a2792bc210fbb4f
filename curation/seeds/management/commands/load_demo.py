"""Create the demo users, project, seed set and local endpoint. Safe to run again.

It lives with the seeds because it imports them: the projects app imports nothing above it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from curation.projects import services
from curation.projects.models import Project, Role
from curation.seeds.services import import_seed_set

DEMO_SLUG = "demo"
DEMO_SEEDS = Path(settings.BASE_DIR) / "curation" / "seeds" / "demo_seeds.jsonl"
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
                    "A small project to try Seedbed: 40 hand-written seed tasks "
                    "in the Self-Instruct shape, and the local model as its endpoint.",
                )
                Project.objects.filter(pk=project.pk).update(slug=DEMO_SLUG)
                project.refresh_from_db()
            for name, role in USERS:
                if not project.memberships.filter(user=users[name]).exists():
                    services.set_member(owner, project, name, role)
            if not project.seed_sets.filter(name="Demo seeds").exists():
                import_seed_set(
                    owner,
                    project,
                    name="Demo seeds",
                    data=DEMO_SEEDS.read_bytes(),
                    filename=DEMO_SEEDS.name,
                    description="Forty varied tasks written for the demo.",
                )
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
