"""Pages: duplicate clusters (with the curator's actions), find similar, semantic search."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.dedup import services
from curation.dedup.embed import EMBEDDING_ERRORS
from curation.dedup.models import ClusterStatus, DedupJob, DupCluster, JobStatus, Scope
from curation.dedup.presenters import cluster_dicts
from curation.dedup.search import search, similar_samples
from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.samples.models import Sample

PAGE_SIZE = 10


@login_required
def clusters(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    project = membership.project
    status = request.GET.get("status", ClusterStatus.OPEN)
    if status not in ClusterStatus.values:
        status = ClusterStatus.OPEN
    qs = DupCluster.objects.filter(project=project, status=status).select_related("decided_by")
    page = Paginator(qs.order_by("-max_similarity", "id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    template = "dedup/clusters.html"
    if request.htmx and request.GET.get("page"):
        template += "#cluster-list"
    ctx = {
        "project": project,
        "page": page,
        "items": cluster_dicts(list(page.object_list)),
        "status": status,
        "statuses": ClusterStatus.choices,
        "scopes": Scope.choices,
        "job": DedupJob.objects.filter(project=project).first(),
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, template, ctx)


@login_required
@require_POST
def rescan(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id, Role.CURATOR)
    scopes = request.POST.getlist("scopes") or None
    raw = request.POST.get("threshold", "").strip()
    try:
        threshold = float(raw) if raw else None
        services.start_rescan(request.user, membership.project, threshold=threshold, scopes=scopes)
    except ValueError:
        messages.error(request, "The threshold is a number such as 0.88.")
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Rescan queued; clusters update when it finishes.")
    return redirect("dedup:clusters", membership.project.pk)


@login_required
def job_progress(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = object_for(request.user, DedupJob.objects.select_related("project"), job_id)
    ctx = {"job": job, "project": job.project, "active": job.status in _ACTIVE}
    return render(request, "dedup/partials/job.html", ctx)


_ACTIVE = {JobStatus.QUEUED, JobStatus.RUNNING}
ACTIONS = {
    "keep": services.keep_canonical,
    "not-duplicate": services.mark_not_duplicate,
    "reopen": services.reopen,
}


@login_required
@require_POST
def cluster_action(request: AuthedRequest, cluster_id: int, action: str) -> HttpResponse:
    cluster = object_for(request.user, DupCluster.objects.all(), cluster_id, Role.CURATOR)
    try:
        if action == "canonical":
            cluster = services.change_canonical(
                request.user, cluster, request.POST.get("member", "")
            )
        elif action in ACTIONS:
            cluster = ACTIONS[action](request.user, cluster)
        else:
            raise ServiceError(f"Unknown action {action!r}.")
    except ServiceError as exc:
        messages.error(request, str(exc))
    if request.htmx:
        fresh = DupCluster.objects.select_related("decided_by").get(pk=cluster.pk)
        ctx = {"c": cluster_dicts([fresh])[0], "can_curate": True, "project": fresh.project}
        return render(request, "dedup/partials/cluster.html", ctx)
    return redirect(f"/projects/{cluster.project_id}/duplicates/?status={cluster.status}")


@login_required
def similar(request: AuthedRequest, sample_id: int) -> HttpResponse:
    sample = object_for(request.user, Sample.objects.select_related("project"), sample_id)
    error = ""
    try:
        hits = similar_samples(sample, 10)
    except EMBEDDING_ERRORS as exc:
        hits, error = [], str(exc)
    template = "dedup/similar.html"
    if request.htmx:
        template += "#similar"
    ctx = {"project": sample.project, "sample": sample, "hits": hits, "error": error}
    return render(request, template, ctx)


@login_required
def semantic_search(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = membership_for(request.user, project_id).project
    query = request.GET.get("q", "")
    error = ""
    try:
        hits = search(project, query, 20) if query.strip() else []
    except EMBEDDING_ERRORS as exc:
        hits, error = [], str(exc)
    template = "dedup/search.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"project": project, "q": query, "hits": hits, "error": error})
