"""Export pages: the form with a live count and preview, versions, progress, downloads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.exports import services
from curation.exports.downloads import file_response
from curation.exports.forms import ExportForm, ImportForm
from curation.exports.models import Export
from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.seeds.api import read_upload


def _preview(project: Any, form: ExportForm) -> dict[str, Any]:
    if not form.is_valid():
        return {"error": "Fix the form to see a preview."}
    try:
        return services.preview(
            project,
            format=form.cleaned_data["format"],
            filters=form.filters(),
            options=form.options(),
        )
    except ServiceError as exc:
        return {"error": str(exc)}


@login_required
def export_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    project = membership.project
    form = ExportForm(request.POST or request.GET or None)
    if request.method == "POST":
        project_for(request.user, project_id, Role.CURATOR)
        if form.is_valid():
            try:
                export = services.create_export(
                    request.user,
                    project,
                    format=form.cleaned_data["format"],
                    parquet=form.cleaned_data["parquet"],
                    filters=form.filters(),
                    split=form.split(),
                    options=form.options(),
                    name=form.cleaned_data["name"],
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Building version {export.version}.")
                return redirect("exports:detail", export.pk)
    template = "exports/list.html"
    if request.htmx and request.method == "GET":
        template += "#preview"
    ctx = {
        "project": project,
        "form": form,
        "import_form": ImportForm(),
        "preview": _preview(project, form) if form.is_bound else None,
        "exports": project.exports.select_related("created_by")[:100],
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, template, ctx)


@login_required
def export_detail(request: AuthedRequest, export_id: int) -> HttpResponse:
    export = object_for(request.user, Export.objects.select_related("project"), export_id)
    others = export.project.exports.exclude(pk=export.pk).filter(status="complete")
    diff = None
    against = request.GET.get("against", "")
    if against.isdigit():
        old = object_for(request.user, Export.objects.all(), int(against))
        try:
            diff = services.diff_versions(old, export, limit=50)
        except ServiceError as exc:
            diff = {"error": str(exc)}
    template = "exports/detail.html"
    if request.htmx:
        template += "#progress"
    ctx = {"project": export.project, "export": export, "others": others, "diff": diff}
    return render(request, template, ctx)


@login_required
def download(request: AuthedRequest, export_id: int, name: str = "") -> HttpResponseBase:
    export = object_for(request.user, Export.objects.all(), export_id)
    try:
        return file_response(export, name or None)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("exports:detail", export.pk)


@login_required
@require_POST
def import_dataset(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, Role.CURATOR)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a file to import.")
        return redirect("exports:list", project.pk)
    upload, answers = form.cleaned_data["file"], form.cleaned_data["answers"]
    if upload.size + (answers.size if answers else 0) > settings.SEEDBED_MAX_UPLOAD_BYTES:
        limit = settings.SEEDBED_MAX_UPLOAD_BYTES // 2**20
        messages.error(request, f"Nothing was imported: the file is over the {limit} MB limit.")
        return redirect("exports:list", project.pk)
    try:
        result = services.import_dataset(
            request.user,
            project,
            data=read_upload(upload),
            fmt=form.cleaned_data["format"],
            target=form.cleaned_data["target"],
            name=form.cleaned_data["name"],
            filename=upload.name or "",
            answers=read_upload(answers) if answers else b"",
        )
    except ServiceError as exc:
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect("exports:list", project.pk)
    if result["target"] == "seed_set":
        messages.success(request, f"Imported {result['imported']} seeds.")
        return redirect("seeds:detail", result["seed_set_id"])
    messages.success(
        request,
        f"Imported {result['imported']} samples as {result['format']} for review "
        f"({result['duplicates']} duplicates skipped).",
    )
    return redirect("exports:list", project.pk)
