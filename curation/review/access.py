"""Loading an assignment for the annotator who holds it (pages and API alike)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from curation.projects.access import object_for
from curation.projects.models import Role
from curation.review.models import Assignment


def own_assignment(user: Any, assignment_id: int) -> Assignment:
    """The user's own assignment; another annotator's is "not found", as annotators see
    only their own assignments."""
    assignment = object_for(
        user,
        Assignment.objects.select_related("item__queue__project"),
        assignment_id,
        Role.ANNOTATOR,
        project_path="item.queue.project_id",
    )
    if assignment.annotator_id != user.pk:
        raise Http404("Not found.")
    return assignment
