from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import File, Router, UploadedFile
from ninja.errors import HttpError
from ninja.params import functions as param
from ninja.responses import Status

from curation.api_schema import INT32_MAX, NO_NUL, errors
from curation.paging import page_of
from curation.projects.access import object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.seeds import services
from curation.seeds.kinds import KINDS, SeedImportError, parse_mapping
from curation.seeds.models import SeedSet
from curation.seeds.schemas import SeedKindOut, SeedPage, SeedSetOut

router = Router(tags=["seeds"])
PAGE_SIZE = 50


@router.get("/projects/{project_id}/seed-sets", response=list[SeedSetOut])
def list_seed_sets(request: HttpRequest, project_id: int) -> Any:
    return project_for(request.user, project_id).seed_sets.all()


@router.post("/projects/{project_id}/seed-sets", response={201: SeedSetOut, **errors(400, 413)})
def upload_seed_set(
    request: HttpRequest,
    project_id: int,
    file: File[UploadedFile],
    name: str = param.Form(..., min_length=1, max_length=200, pattern=NO_NUL),
    description: str = param.Form("", pattern=NO_NUL),
    kind: str = param.Form("", max_length=64, pattern=NO_NUL),
    mapping: str = param.Form("", pattern=NO_NUL),
) -> Status[SeedSet]:
    """Import a file. `kind` skips detection; `mapping` is field=column lines or JSON."""
    project = project_for(request.user, project_id, Role.CURATOR)
    data = read_upload(file)
    try:
        fields = parse_mapping(mapping)
        seed_set = services.import_seed_set(
            request.user,
            project,
            name=name,
            data=data,
            filename=file.name or "",
            description=description,
            kind=kind.strip() or None,
            mapping=fields,
        )
    except (ServiceError, SeedImportError) as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(201, seed_set)


@router.get("/seed-kinds", response=list[SeedKindOut])
def list_seed_kinds(request: HttpRequest) -> Any:
    """Every seed kind: its fields (required ones marked), payload keys and an example."""
    return list(KINDS.values())


def read_upload(file: Any) -> bytes:
    from django.conf import settings

    limit = settings.SEEDBED_MAX_UPLOAD_BYTES
    if file.size is not None and file.size > limit:
        raise HttpError(
            413, f"The file is {file.size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB."
        )
    data: bytes = file.read()
    return data


@router.get("/seed-sets/{seed_set_id}", response=SeedSetOut)
def get_seed_set(request: HttpRequest, seed_set_id: int) -> SeedSet:
    return object_for(request.user, SeedSet.objects.all(), seed_set_id)


@router.get("/seed-sets/{seed_set_id}/seeds", response=SeedPage)
def list_seeds(
    request: HttpRequest,
    seed_set_id: int,
    q: str = param.Query("", max_length=500, pattern=NO_NUL),
    page: int = param.Query(1, ge=1, le=INT32_MAX),
) -> dict[str, Any]:
    seed_set = object_for(request.user, SeedSet.objects.all(), seed_set_id)
    return page_of(seed_set.seeds.search(q).order_by("position"), page, PAGE_SIZE)


@router.delete("/seed-sets/{seed_set_id}", response={204: None, **errors(409)})
def delete_seed_set(request: HttpRequest, seed_set_id: int) -> Status[None]:
    seed_set = object_for(request.user, SeedSet.objects.all(), seed_set_id, Role.CURATOR)
    try:
        services.delete_seed_set(request.user, seed_set)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return Status(204, None)
