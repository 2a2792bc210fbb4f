"""Writing the audit log. Services call `record` inside their transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from curation.projects.models import AuditEvent, Project


def record(
    actor: Any,
    verb: str,
    obj: models.Model,
    *,
    project: Project | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    project_id = project.pk if isinstance(project, Project) else project
    return AuditEvent.objects.create(
        project_id=project_id,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
    )
