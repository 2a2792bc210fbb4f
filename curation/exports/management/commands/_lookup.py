"""What the export commands share: finding the project and the acting user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from curation.projects.models import Project


def project_and_user(ref: str, username: str | None) -> tuple[Project, Any]:
    project = Project.objects.filter(
        **({"pk": int(ref)} if ref.isdigit() else {"slug": ref})
    ).first()
    if project is None:
        raise CommandError(f"No project {ref!r}.")
    actor = None
    if username:
        actor = get_user_model().objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"No user named {username!r}.")
    return project, actor
