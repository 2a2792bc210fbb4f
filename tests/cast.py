"""The fixed cast of users every permission test runs against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.projects.models import Project, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@dataclass
class Cast:
    project: Project
    owner: Any
    curator: Any
    annotator: Any
    viewer: Any
    outsider: Any
    other_project: Project

    def user(self, name: str) -> Any:
        return getattr(self, name)


def make_cast() -> Cast:
    project = ProjectFactory(name="Alpha")
    other = ProjectFactory(name="Beta")
    people = {}
    for role in (Role.OWNER, Role.CURATOR, Role.ANNOTATOR, Role.VIEWER):
        user = UserFactory(username=f"alpha-{role}")
        MembershipFactory(project=project, user=user, role=role)
        people[str(role)] = user
    outsider = UserFactory(username="outsider")
    MembershipFactory(project=other, user=outsider, role=Role.OWNER)
    return Cast(project=project, outsider=outsider, other_project=other, **people)
