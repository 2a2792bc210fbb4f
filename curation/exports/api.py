"""Exports API. Curators create versions and import datasets; any member reads and downloads."""

from __future__ import annotations

from typing import Any, Literal

from django.http import FileResponse, HttpRequest
from ninja import File, Router, UploadedFile
from ninja.errors import HttpError
from ninja.params import functions as param
from ninja.responses import Status

from curation.api_schema import INT64_MAX, NO_NUL, errors
from curation.exports import services
from curation.exports.downloads import file_response
from curation.exports.models import Export
from curation.exports.schemas import ExportIn, ExportOut, PreviewIn
from curation.projects.access import object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.seeds.api import read_upload

router = Router(tags=["exports"])


@router.post("/projects/{project_id}/exports", response={201: ExportOut, **errors(400)})
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


@router.post(
    "/projects/{project_id}/exports/preview", response={200: dict[str, Any], **errors(400)}
)
def preview(request: HttpRequest, project_id: int, payload: PreviewIn) -> dict[str, Any]:
    project = project_for(request.user, project_id)
    try:
        return services.preview(project, **payload.arguments())
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc


@router.get("/exports/{export_id}", response=ExportOut)
def get_export(request: HttpRequest, export_id: int) -> Export:
    return object_for(request.user, Export.objects.all(), export_id)


@router.get("/exports/{export_id}/download", response={200: None, **errors(409)})
def download(
    request: HttpRequest,
    export_id: int,
    file: str = param.Query("", max_length=255, pattern=NO_NUL),
) -> FileResponse:
    """The zip bundle, or one file of the version with ?file=NAME."""
    export = object_for(request.user, Export.objects.all(), export_id)
    try:
        return file_response(export, file or None)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc


@router.get("/exports/{export_id}/diff", response={200: dict[str, Any], **errors(409)})
def diff(
    request: HttpRequest,
    export_id: int,
    against: int = param.Query(..., ge=1, le=INT64_MAX),
    limit: int = param.Query(1000, ge=0, le=100_000),
) -> Any:
    """Sample ids added and removed going from version `against` to this one."""
    new = object_for(request.user, Export.objects.all(), export_id)
    old = object_for(request.user, Export.objects.all(), against)
    try:
        return services.diff_versions(old, new, limit=limit)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc


@router.post("/projects/{project_id}/imports", response={201: dict[str, Any], **errors(400, 413)})
def import_dataset(
    request: HttpRequest,
    project_id: int,
    file: File[UploadedFile],
    format: str = param.Form(
        "auto", max_length=32, pattern=r"^[a-z_]+$", description="auto or a format."
    ),
    target: Literal["samples", "seed_set"] = param.Form("samples"),
    name: str = param.Form("", max_length=200, pattern=NO_NUL),
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
