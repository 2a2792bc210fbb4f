from __future__ import annotations

from typing import Any, Literal

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Router
from ninja.errors import HttpError
from ninja.params import functions as param
from ninja.responses import Status

from curation.api_schema import INT32_MAX, NO_NUL, errors
from curation.dedup import services
from curation.dedup.embed import EMBEDDING_ERRORS
from curation.dedup.models import ClusterStatus, DedupJob, DupCluster
from curation.dedup.presenters import cluster_dicts
from curation.dedup.schemas import (
    CanonicalIn,
    ClusterOut,
    ClusterPage,
    DedupIn,
    HitOut,
    JobOut,
    SimilarOut,
)
from curation.dedup.search import search, similar_samples
from curation.projects.access import object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.samples.models import Sample
from generation.embeddings import messages_text

router = Router(tags=["near-duplicates"])


def _unavailable(exc: Exception) -> HttpError:
    return HttpError(503, f"Embeddings are unavailable: {exc}")


@router.get("/samples/{sample_id}/similar", response={200: list[SimilarOut], **errors(503)})
def similar(
    request: HttpRequest, sample_id: int, k: int = param.Query(10, ge=1, le=100)
) -> list[dict[str, Any]]:
    sample = object_for(request.user, Sample.objects.all(), sample_id)
    try:
        hits = similar_samples(sample, k)
    except EMBEDDING_ERRORS as exc:
        raise _unavailable(exc) from exc
    return [
        {
            "id": s.pk,
            "similarity": sim,
            "status": s.status,
            "dup_status": s.dup_status,
            "run_id": s.run_id,
            "first_message": messages_text(s.messages)[:500],
        }
        for s, sim in hits
    ]


@router.get("/projects/{project_id}/search", response={200: list[HitOut], **errors(503)})
def semantic_search(
    request: HttpRequest,
    project_id: int,
    q: str = param.Query(..., min_length=1, max_length=2000, pattern=NO_NUL),
    k: int = param.Query(20, ge=1, le=100),
) -> list[dict[str, Any]]:
    project = project_for(request.user, project_id)
    try:
        hits = search(project, q, k)
    except EMBEDDING_ERRORS as exc:
        raise _unavailable(exc) from exc
    return [{"kind": h.kind, "id": h.id, "similarity": h.similarity, "text": h.text} for h in hits]


@router.post("/projects/{project_id}/dedup", response={202: JobOut, **errors(400)})
def rescan(request: HttpRequest, project_id: int, body: DedupIn | None = None) -> Any:
    project = project_for(request.user, project_id, Role.CURATOR)
    body = body or DedupIn()
    try:
        job = services.start_rescan(
            request.user,
            project,
            threshold=body.threshold,
            scopes=None if body.scopes is None else [str(s) for s in body.scopes],
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    job.refresh_from_db()
    return Status(202, job)


@router.get("/dedup-jobs/{job_id}", response=JobOut)
def get_job(request: HttpRequest, job_id: int) -> DedupJob:
    return object_for(request.user, DedupJob.objects.all(), job_id)


@router.get("/projects/{project_id}/duplicate-clusters", response=ClusterPage)
def list_clusters(
    request: HttpRequest,
    project_id: int,
    status: str = param.Query(ClusterStatus.OPEN, max_length=32, pattern=NO_NUL),
    page: int = param.Query(1, ge=1, le=INT32_MAX),
    page_size: int = param.Query(20, ge=1, le=100),
) -> dict[str, Any]:
    project = project_for(request.user, project_id)
    clusters = DupCluster.objects.filter(project=project).select_related("decided_by")
    if status in ClusterStatus.values:
        clusters = clusters.filter(status=status)
    paginator = Paginator(clusters.order_by("-max_similarity", "id"), page_size)
    page_obj = paginator.get_page(page)
    return {
        "count": paginator.count,
        "page": page_obj.number,
        "pages": paginator.num_pages,
        "results": cluster_dicts(list(page_obj.object_list)),
    }


def _cluster(request: HttpRequest, cluster_id: int, role: str = Role.VIEWER) -> DupCluster:
    return object_for(request.user, DupCluster.objects.all(), cluster_id, role)


def _out(cluster: DupCluster) -> dict[str, Any]:
    return cluster_dicts([DupCluster.objects.select_related("decided_by").get(pk=cluster.pk)])[0]


@router.get("/duplicate-clusters/{cluster_id}", response=ClusterOut)
def get_cluster(request: HttpRequest, cluster_id: int) -> dict[str, Any]:
    return _out(_cluster(request, cluster_id))


ACTIONS = {
    "keep-canonical": services.keep_canonical,
    "not-duplicate": services.mark_not_duplicate,
    "reopen": services.reopen,
}


@router.post(
    "/duplicate-clusters/{cluster_id}/canonical", response={200: ClusterOut, **errors(409)}
)
def set_canonical(request: HttpRequest, cluster_id: int, body: CanonicalIn) -> dict[str, Any]:
    """Make another member canonical: {"member": "x<sample id>"} or "s<seed id>"."""
    cluster = _cluster(request, cluster_id, Role.CURATOR)
    try:
        cluster = services.change_canonical(request.user, cluster, body.member)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return _out(cluster)


@router.post("/duplicate-clusters/{cluster_id}/{action}", response={200: ClusterOut, **errors(409)})
def act(
    request: HttpRequest,
    cluster_id: int,
    action: Literal["keep-canonical", "not-duplicate", "reopen"],
) -> dict[str, Any]:
    """keep-canonical (others rejected as duplicates), not-duplicate, or reopen (undo)."""
    cluster = _cluster(request, cluster_id, Role.CURATOR)
    if action not in ACTIONS:
        raise HttpError(404, f"Unknown action {action!r}; use {', '.join(ACTIONS)}.")
    try:
        cluster = ACTIONS[action](request.user, cluster)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return _out(cluster)
