from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.params import functions as param
from ninja.responses import Status

from curation.api_schema import INT64_MAX, errors
from curation.http import AuthedRequest
from curation.projects import services
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import AuditEvent, Membership, ModelEndpoint, Project, Role
from curation.projects.schemas import (
    AuditEventOut,
    EndpointIn,
    EndpointOut,
    EndpointTestOut,
    MemberIn,
    MemberOut,
    MeOut,
    ProjectIn,
    ProjectOut,
)

router = Router(tags=["projects"])


def _project_out(project: Project, role: str | None) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "slug": project.slug,
        "description": project.description,
        "created_at": project.created_at,
        "role": role,
    }


@router.get("/me", response=MeOut)
def me(request: AuthedRequest) -> dict[str, Any]:
    memberships = Membership.objects.filter(user=request.user).select_related("project")
    return {
        "username": request.user.get_username(),
        "projects": [_project_out(m.project, m.role) for m in memberships],
    }


@router.get("/projects", response=list[ProjectOut])
def list_projects(request: AuthedRequest) -> list[dict[str, Any]]:
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .order_by("project__name")
    )
    return [_project_out(m.project, m.role) for m in memberships]


@router.post("/projects", response={201: ProjectOut, **errors(400)})
def create_project(request: HttpRequest, payload: ProjectIn) -> Status[dict[str, Any]]:
    try:
        project = services.create_project(request.user, payload.name, payload.description)
    except services.ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(201, _project_out(project, Role.OWNER))


@router.get("/projects/{project_id}", response=ProjectOut)
def get_project(request: HttpRequest, project_id: int) -> dict[str, Any]:
    membership = membership_for(request.user, project_id)
    return _project_out(membership.project, membership.role)


@router.get("/projects/{project_id}/members", response=list[MemberOut])
def list_members(request: HttpRequest, project_id: int) -> list[dict[str, Any]]:
    project = project_for(request.user, project_id)
    return [
        {"id": m.pk, "username": m.user.username, "role": m.role}
        for m in project.memberships.select_related("user").order_by("user__username")
    ]


@router.post("/projects/{project_id}/members", response={200: MemberOut, **errors(400)})
def set_member(request: HttpRequest, project_id: int, payload: MemberIn) -> dict[str, Any]:
    project = project_for(request.user, project_id, Role.OWNER)
    try:
        m = services.set_member(request.user, project, payload.username, payload.role)
    except services.ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return {"id": m.pk, "username": m.user.username, "role": m.role}


@router.delete("/projects/{project_id}/members/{member_id}", response={204: None, **errors(400)})
def remove_member(request: HttpRequest, project_id: int, member_id: int) -> Status[None]:
    project = project_for(request.user, project_id, Role.OWNER)
    try:
        services.remove_member(request.user, project, member_id)
    except services.ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(204, None)


@router.get("/projects/{project_id}/audit", response=list[AuditEventOut])
def list_audit(
    request: HttpRequest,
    project_id: int,
    limit: int = param.Query(100, ge=1, le=500),
    before_id: int | None = param.Query(None, ge=1, le=INT64_MAX),
) -> list[dict[str, Any]]:
    project = project_for(request.user, project_id, Role.CURATOR)
    events = AuditEvent.objects.filter(project=project).select_related("actor")
    if before_id is not None:
        events = events.filter(pk__lt=before_id)
    return [
        {
            "id": e.pk,
            "actor": e.actor.username if e.actor else None,
            "verb": e.verb,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "before": e.before,
            "after": e.after,
            "created_at": e.created_at,
        }
        for e in events[:limit]
    ]


def endpoint_out(e: ModelEndpoint) -> dict[str, Any]:
    return {
        "id": e.pk,
        "name": e.name,
        "base_url": e.base_url,
        "key": e.key_display,
        "chat_model": e.chat_model,
        "judge_model": e.judge_model,
        "embedding_model": e.embedding_model,
        "max_concurrency": e.max_concurrency,
        "rpm": e.rpm,
        "tpm": e.tpm,
        "price_in_per_1k": e.price_in_per_1k,
        "price_out_per_1k": e.price_out_per_1k,
        "is_default": e.is_default,
        "capabilities": e.capabilities or {},
    }


@router.get("/projects/{project_id}/endpoints", response=list[EndpointOut])
def list_endpoints(request: HttpRequest, project_id: int) -> list[dict[str, Any]]:
    project = project_for(request.user, project_id)
    return [endpoint_out(e) for e in project.endpoints.all()]


@router.post(
    "/projects/{project_id}/endpoints",
    response={201: EndpointOut, **errors(400, 409)},
    tags=["endpoints"],
)
def create_endpoint(
    request: HttpRequest, project_id: int, payload: EndpointIn
) -> Status[dict[str, Any]]:
    project = project_for(request.user, project_id, Role.OWNER)
    if project.endpoints.filter(name=payload.name).exists():
        raise HttpError(409, f"An endpoint named {payload.name!r} exists; choose another name.")
    data = payload.dict()
    try:
        endpoint = services.save_endpoint(
            request.user,
            project,
            name=data.pop("name"),
            api_key=data.pop("api_key") or None,
            is_default=data.pop("is_default"),
            **data,
        )
    except services.ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(201, endpoint_out(endpoint))


@router.post("/endpoints/{endpoint_id}/test", response=EndpointTestOut, tags=["endpoints"])
def test_endpoint(request: HttpRequest, endpoint_id: int) -> dict[str, Any]:
    endpoint = object_for(request.user, ModelEndpoint.objects.all(), endpoint_id, Role.CURATOR)
    return services.test_endpoint(endpoint, request.user)
