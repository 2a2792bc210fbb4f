from __future__ import annotations

from django.core.management.base import CommandError

from curation.projects.models import Project


def project_arg(value: str) -> Project:
    project = (
        Project.objects.filter(pk=int(value)).first()
        if value.isdigit()
        else Project.objects.filter(slug=value).first()
    )
    if project is None:
        raise CommandError(f"No project {value!r} (give an id or a slug).")
    return project
