"""Exports API. Curators create versions and import datasets; any member reads and downloads."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Router, UploadedFile
from ninja.errors import HttpError
from ninja.responses import Status

from curation.exports import services
from curation.exports.downloads import file_response
from curation.exports.models import Export
from curation.exports.schemas import ExportIn, ExportOut, PreviewIn
from curation.projects.access import object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.seeds.api import read_upload

router = Router(tags=["exports"])


@router.post("/projects/{project_id}/exports", response={201: ExportOut})
def create_export(request: HttpRequest, project_id: int, payload: ExportIn) -> Status[Export]:
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        export = services.create_export(request.user, project, **payload.arguments())
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    export.refresh_from_db()  # eager tasks (tests, small setups) may have built it already
    return Status(201, export)


@router.get("/projects/{project_id}/exports", response=list[ExportOut])
def list_exports(request: HttpRequest, project_id: int) -> Any:
    return project_for(request.user, project_id).exports.all()[:200]


@router.post("/projects/{project_id}/exports/preview", response=dict[str, Any])
def preview(request: HttpRequest, project_id: int, payload: PreviewIn) -> dict[str, Any]:
    project = project_for(request.user, project_id)
    try:
        return services.preview(project, **payload.arguments())
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc


@router.get("/exports/{export_id}", response=ExportOut)
def get_export(request: HttpRequest, export_id: int) -> Export:
    return object_for(request.user, Export.objects.all(), export_id)


@router.get("/exports/{export_id}/download")
def download(request: HttpRequest, export_id: int, file: str = "") -> FileResponse:
    """The zip bundle, or one file of the version with ?file=NAME."""
    export = object_for(request.user, Export.objects.all(), export_id)
    try:
        return file_response(export, file or None)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc


@router.get("/exports/{export_id}/diff", response=dict[str, Any])
def diff(request: HttpRequest, export_id: int, against: int, limit: int = 1000) -> Any:
    """Sample ids added and removed going from version `against` to this one."""
    new = object_for(request.user, Export.objects.all(), export_id)
    old = object_for(request.user, Export.objects.all(), against)
    try:
        return services.diff_versions(old, new, limit=max(0, min(limit, 100_000)))
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc


@router.post("/projects/{project_id}/imports", response={201: dict[str, Any]})
def import_dataset(
    request: HttpRequest,
    project_id: int,
    file: File[UploadedFile],
    format: Form[str] = "auto",
    target: Form[str] = "samples",
    name: Form[str] = "",
    answers: File[UploadedFile | None] = None,
) -> Status[dict[str, Any]]:
    """A dataset in any export format, as samples to review or as a seed set. `answers`:
    BFCL's possible_answer file, with a BFCL question file."""
    project = project_for(request.user, project_id, Role.CURATOR)
    data = read_upload(file)
    try:
        result = services.import_dataset(
            request.user,
            project,
            data=data,
            fmt=format,
            target=target,
            name=name,
            filename=file.name or "",
            answers=read_upload(answers) if answers else b"",
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(201, result)
