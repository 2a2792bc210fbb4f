from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from curation.http import AuthedRequest
from curation.projects import services
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.forms import EndpointForm, MemberForm, ProjectForm, TokenForm
from curation.projects.models import AuditEvent, Membership, ModelEndpoint, Role
from generation.capabilities import CAPABILITIES


@login_required
def project_list(request: AuthedRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .order_by("project__name")
    )
    return render(
        request, "projects/list.html", {"memberships": memberships, "form": ProjectForm()}
    )


@login_required
@require_POST
def project_create(request: AuthedRequest) -> HttpResponse:
    form = ProjectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A project needs a name.")
        return redirect("projects:list")
    project = services.create_project(
        request.user, form.cleaned_data["name"], form.cleaned_data["description"]
    )
    messages.success(request, f"Created {project.name}.")
    return redirect("projects:detail", project.pk)


@login_required
def project_detail(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    project = membership.project
    ctx = {
        "project": project,
        "membership": membership,
        "seed_sets": project.seed_sets.all()[:50],
        "endpoints": project.endpoints.all(),
        "member_count": project.memberships.count(),
        "can_curate": membership.has_role(Role.CURATOR),
        "is_owner": membership.has_role(Role.OWNER),
    }
    return render(request, "projects/detail.html", ctx)


@login_required
def members(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    project = membership.project
    form = MemberForm()
    if request.method == "POST":
        project_for(request.user, project_id, Role.OWNER)
        form = MemberForm(request.POST)
        if form.is_valid():
            try:
                services.set_member(
                    request.user, project, form.cleaned_data["username"], form.cleaned_data["role"]
                )
            except services.ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request, f"{form.cleaned_data['username']} is now {form.cleaned_data['role']}."
                )
                return redirect("projects:members", project.pk)
    ctx = {
        "project": project,
        "membership": membership,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "form": form,
        "is_owner": membership.has_role(Role.OWNER),
    }
    return render(request, "projects/members.html", ctx)


@login_required
@require_POST
def member_remove(request: AuthedRequest, project_id: int, member_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, Role.OWNER)
    try:
        services.remove_member(request.user, project, member_id)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Member removed.")
    return redirect("projects:members", project.pk)


@login_required
def audit_log(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, Role.CURATOR)
    events = AuditEvent.objects.filter(project=project).select_related("actor")[:200]
    return render(request, "projects/audit.html", {"project": project, "events": events})


@login_required
def tokens(request: AuthedRequest) -> HttpResponse:
    plain = None
    form = TokenForm()
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            _, plain = services.issue_api_token(request.user, form.cleaned_data["name"])
            messages.success(request, "Token issued. Copy it now: it is not shown again.")
    ctx = {
        "tokens": request.user.api_tokens.filter(revoked_at__isnull=True),
        "form": form,
        "plain": plain,
    }
    return render(request, "projects/tokens.html", ctx)


@login_required
@require_POST
def token_revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    try:
        services.revoke_api_token(request.user, token_id)
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Token revoked.")
    return redirect("projects:tokens")


def capability_row(caps: dict[str, Any] | None) -> dict[str, Any]:
    """What "Test connection" found, for the page: each capability yes / no / unknown."""
    caps = caps or {}
    errors = caps.get("errors") or {}
    return {
        "probed": bool(caps),
        "checked_at": parse_datetime(str(caps.get("checked_at") or "")),
        "flags": [
            {
                "name": name,
                "state": "yes"
                if caps.get(name) is True
                else "no"
                if caps.get(name) is False
                else "unknown",
                "why": str(errors.get(name, "")),
            }
            for name in CAPABILITIES
        ],
    }


@login_required
def endpoints(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    project = membership.project
    form = EndpointForm(request.POST or None)
    if request.method == "POST":
        project_for(request.user, project_id, Role.OWNER)
        if form.is_valid():
            d = dict(form.cleaned_data)
            try:
                services.save_endpoint(
                    request.user,
                    project,
                    name=d.pop("name"),
                    api_key=d.pop("api_key") or None,
                    is_default=d.pop("is_default"),
                    **d,
                )
            except services.ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Endpoint saved.")
                return redirect("projects:endpoints", project.pk)
    ctx = {
        "project": project,
        "endpoints": [(e, capability_row(e.capabilities)) for e in project.endpoints.all()],
        "form": form,
        "is_owner": membership.has_role(Role.OWNER),
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, "projects/endpoints.html", ctx)


@login_required
@require_POST
def endpoint_test(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    endpoint = object_for(request.user, ModelEndpoint.objects.all(), endpoint_id, Role.CURATOR)
    result = services.test_endpoint(endpoint, request.user)
    ctx = {
        "project": endpoint.project,
        "endpoint": endpoint,
        "result": result,
        "caps": capability_row(endpoint.capabilities),
    }
    if request.htmx:
        return render(request, "projects/partials/endpoint_test.html", ctx)
    return render(request, "projects/endpoint_test.html", ctx)
