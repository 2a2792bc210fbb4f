"""The one permission helper. Every view and every API endpoint loads through it.

A non-member gets 404 (we do not confirm that a project exists); a member whose
role is too low gets 403.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

from curation.projects.models import ROLE_RANK, Membership, Project, Role

M = TypeVar("M", bound=models.Model)


def membership_for(user: Any, project_id: int, role: str = Role.VIEWER) -> Membership:
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such project.")
    membership = (
        Membership.objects.select_related("project")
        .filter(project_id=project_id, user=user)
        .first()
    )
    if membership is None:
        raise Http404("No such project.")
    if ROLE_RANK[membership.role] < ROLE_RANK[role]:
        raise PermissionDenied(f"This needs the {role} role; you are {membership.role}.")
    return membership


def project_for(user: Any, project_id: int, role: str = Role.VIEWER) -> Project:
    return membership_for(user, project_id, role).project


def object_for(
    user: Any,
    queryset: models.QuerySet[M],
    pk: int,
    role: str = Role.VIEWER,
    project_path: str = "project_id",
) -> M:
    """Load an object that belongs to a project, with the same 404/403 rules as its project."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404("Not found.")
    project_id = obj
    for part in project_path.split("."):
        project_id = getattr(project_id, part)
    membership_for(user, int(project_id), role)  # type: ignore[call-overload]
    return obj
