"""Verbs on near-duplicates. Writes are atomic and audited; heavy work goes to Celery.

Scanning (`scan`) is what the tasks and the `dedup` command run; curators act on clusters
with `keep_canonical`, `mark_not_duplicate`, `change_canonical` and `reopen`, each of which
can be undone (`reopen` restores what a decision changed, from `DupMember.before`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from curation.dedup.clusters import LOCK_NAMESPACE, canonical_key, rebuild_clusters
from curation.dedup.detect import refresh_edges
from curation.dedup.embed import embed_samples, embed_seeds, embedder_for, stale_samples
from curation.dedup.models import (
    ClusterStatus,
    DedupJob,
    DupCluster,
    DupMember,
    JobStatus,
    Scope,
)
from curation.projects import audit
from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.samples.models import DupStatus, Sample, SampleStatus


def scan(
    project_id: int,
    *,
    full: bool = False,
    ids: list[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Embed what needs it, recompute the affected edges, rebuild the clusters.

    `full`: every sample's neighbours are queried again (a rescan); otherwise only those of
    samples whose vector changed (detection at creation, and after edits).
    """
    project = Project.objects.get(pk=project_id)
    embedder = embedder_for(project)
    seeds = embed_seeds(project.pk, embedder)
    total = stale_samples(project.pk, embedder.name, ids) if progress else 0
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    changed = embed_samples(project.pk, ids, embedder, tick)
    if full or seeds:
        edges = refresh_edges(project)
    elif changed:
        edges = refresh_edges(project, changed)
    else:
        # Nothing new: the clusters stand as they are (the periodic sweep lands here).
        empty = {"edges": 0, "edges_added": 0, "edges_removed": 0}
        return {"embedded": 0, "seeds_embedded": 0, **empty, "unchanged": True}
    result = rebuild_clusters(project)
    return {"embedded": len(changed), "seeds_embedded": seeds, **edges, **result}


@transaction.atomic
def start_rescan(
    actor: Any,
    project: Project,
    *,
    threshold: float | None = None,
    scopes: list[str] | None = None,
) -> DedupJob:
    """Queue a project-wide rescan (a job to poll). A rescan already waiting is reused."""
    if threshold is not None or scopes is not None:
        set_dedup_settings(actor, project, threshold=threshold, scopes=scopes)
    pending = (
        DedupJob.objects.filter(project=project, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .order_by("created_at")
        .first()
    )
    if pending is not None and pending.status == JobStatus.QUEUED:
        return pending
    job = DedupJob.objects.create(
        project=project,
        scopes=project.dedup_scopes,
        threshold=project.dedup_threshold,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(actor, "dedup.rescan", job, project=project, after={"job": job.pk})
    from curation.dedup.tasks import run_dedup_job

    transaction.on_commit(lambda: run_dedup_job.delay(job.pk))
    return job


@transaction.atomic
def set_dedup_settings(
    actor: Any, project: Project, *, threshold: float | None = None, scopes: list[str] | None = None
) -> Project:
    before = {"threshold": project.dedup_threshold, "scopes": list(project.dedup_scopes)}
    if threshold is not None:
        if not 0 < threshold <= 1:
            raise ServiceError("The threshold is a cosine similarity in (0, 1].")
        project.dedup_threshold = threshold
    if scopes is not None:
        unknown = set(scopes) - set(Scope.values)
        if unknown or not scopes:
            raise ServiceError(f"Scopes are some of {', '.join(Scope.values)}.")
        project.dedup_scopes = [s for s in Scope.values if s in scopes]
    project.save(update_fields=["dedup_threshold", "dedup_scopes"])
    after = {"threshold": project.dedup_threshold, "scopes": list(project.dedup_scopes)}
    if after != before:
        audit.record(actor, "dedup.settings", project, project=project, before=before, after=after)
    return project


def run_job(job_id: int) -> DedupJob | None:
    """Carry out a queued job once: a conditional UPDATE claims it, so a re-run is a no-op."""
    claimed = DedupJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = DedupJob.objects.get(pk=job_id)

    def progress(done: int, total: int) -> None:
        DedupJob.objects.filter(pk=job_id).update(done=done, total=total)

    try:
        result = scan(job.project_id, full=True, progress=progress)
    except Exception as exc:
        DedupJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:4000],
            finished_at=timezone.now(),
        )
        raise
    DedupJob.objects.filter(pk=job_id).update(
        status=JobStatus.DONE, result=result, finished_at=timezone.now(), done=F("total")
    )
    return DedupJob.objects.get(pk=job_id)


def mark_sample_for_reembedding(sample_id: int) -> None:
    """Call after a sample's content changed (review edits): its vector, edges and cluster
    are redone by a task once the caller's transaction commits."""
    project_id = Sample.objects.filter(pk=sample_id).values_list("project_id", flat=True).first()
    if project_id is None:
        return
    Sample.objects.filter(pk=sample_id).update(embedded_hash="")
    from curation.dedup.tasks import detect_new_samples

    transaction.on_commit(lambda: detect_new_samples.delay(project_id))


# --- decisions on clusters ------------------------------------------------------------------

_FIELDS = ("status", "dup_status", "duplicate_of_id", "duplicate_of_seed_id")


def _locked(cluster: DupCluster) -> DupCluster:
    """The cluster, locked, after any rebuild of its project's clusters has finished
    (rebuild_clusters holds the same advisory lock)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, cluster.project_id])
    found = DupCluster.objects.select_for_update().filter(pk=cluster.pk).first()
    if found is None:
        raise ServiceError("This cluster changed in a rescan; reload the page.")
    return found


def _sample_members(cluster: DupCluster) -> list[DupMember]:
    return list(cluster.members.filter(sample__isnull=False).select_related("sample"))


def _remember(member: DupMember) -> None:
    s = member.sample
    assert s is not None
    member.before = {f: getattr(s, f) for f in _FIELDS}
    member.save(update_fields=["before"])


def _decide(cluster: DupCluster, actor: Any, status: str) -> None:
    cluster.status = status
    cluster.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    cluster.decided_at = timezone.now()
    cluster.save(update_fields=["status", "decided_by", "decided_at"])


@transaction.atomic
def keep_canonical(actor: Any, cluster: DupCluster) -> DupCluster:
    """Keep the canonical member; reject the other samples as its duplicates."""
    cluster = _locked(cluster)
    if cluster.status != ClusterStatus.OPEN:
        raise ServiceError("This cluster is already decided; reopen it first.")
    canonical = canonical_key(cluster)
    rejected = []
    for m in _sample_members(cluster):
        if m.key == canonical:
            s = m.sample
            assert s is not None
            if s.dup_status != DupStatus.UNIQUE or s.duplicate_of_id or s.duplicate_of_seed_id:
                _remember(m)  # e.g. a new canonical that was a duplicate of the old one
                Sample.objects.filter(pk=s.pk).update(
                    dup_status=DupStatus.UNIQUE, duplicate_of_id=None, duplicate_of_seed_id=None
                )
            continue
        _remember(m)
        s = m.sample
        assert s is not None
        exact = s.dup_status == DupStatus.EXACT_DUPLICATE
        Sample.objects.filter(pk=s.pk).update(
            status=SampleStatus.REJECTED,
            dup_status=DupStatus.EXACT_DUPLICATE if exact else DupStatus.NEAR_DUPLICATE,
            duplicate_of_id=cluster.canonical_sample_id,
            duplicate_of_seed_id=cluster.canonical_seed_id,
        )
        rejected.append(s.pk)
    _decide(cluster, actor, ClusterStatus.RESOLVED)
    audit.record(
        actor,
        "dedup.keep_canonical",
        cluster,
        project=cluster.project_id,
        before={"status": ClusterStatus.OPEN},
        after={"status": cluster.status, "canonical": canonical, "rejected": rejected},
    )
    return cluster


@transaction.atomic
def mark_not_duplicate(actor: Any, cluster: DupCluster) -> DupCluster:
    """The members are not duplicates of each other: they all count as unique."""
    cluster = _locked(cluster)
    if cluster.status != ClusterStatus.OPEN:
        raise ServiceError("This cluster is already decided; reopen it first.")
    ids = []
    for m in _sample_members(cluster):
        _remember(m)
        assert m.sample is not None
        ids.append(m.sample.pk)
    Sample.objects.filter(pk__in=ids).update(
        dup_status=DupStatus.UNIQUE, duplicate_of_id=None, duplicate_of_seed_id=None
    )
    _decide(cluster, actor, ClusterStatus.DISMISSED)
    audit.record(
        actor,
        "dedup.not_duplicate",
        cluster,
        project=cluster.project_id,
        before={"status": ClusterStatus.OPEN},
        after={"status": cluster.status, "samples": ids},
    )
    return cluster


@transaction.atomic
def reopen(actor: Any, cluster: DupCluster) -> DupCluster:
    """Undo a decision: every sample it changed gets its earlier fields back."""
    cluster = _locked(cluster)
    if cluster.status == ClusterStatus.OPEN:
        raise ServiceError("This cluster is open already.")
    was = cluster.status
    restored = []
    for m in _sample_members(cluster):
        if m.before is None:
            continue
        assert m.sample is not None
        Sample.objects.filter(pk=m.sample.pk).update(**m.before)
        restored.append(m.sample.pk)
        m.before = None
        m.save(update_fields=["before"])
    # A rescan may have found the same group again meanwhile; this row takes its place.
    DupCluster.objects.open().filter(
        project_id=cluster.project_id, signature=cluster.signature
    ).delete()
    cluster.status = ClusterStatus.OPEN
    cluster.decided_by, cluster.decided_at = None, None
    cluster.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(
        actor,
        "dedup.reopen",
        cluster,
        project=cluster.project_id,
        before={"status": was},
        after={"status": cluster.status, "restored": restored},
    )
    return cluster


@transaction.atomic
def change_canonical(actor: Any, cluster: DupCluster, member_key: str) -> DupCluster:
    """Make another member canonical ("x<sample id>" or "s<seed id>"). A resolved cluster is
    resolved again around the new canonical; change it back to undo."""
    cluster = _locked(cluster)
    members = {m.key: m for m in cluster.members.all()}
    if member_key not in members:
        raise ServiceError("That is not a member of this cluster.")
    old = canonical_key(cluster)
    if member_key == old:
        return cluster
    was = cluster.status
    if was != ClusterStatus.OPEN:
        reopen(actor, cluster)
        cluster.refresh_from_db()
    new = members[member_key]
    cluster.canonical_sample_id = new.sample_id
    cluster.canonical_seed_id = new.seed_id
    cluster.save(update_fields=["canonical_sample", "canonical_seed"])
    _rescore(cluster)
    audit.record(
        actor,
        "dedup.change_canonical",
        cluster,
        project=cluster.project_id,
        before={"canonical": old},
        after={"canonical": member_key},
    )
    if was == ClusterStatus.RESOLVED:
        return keep_canonical(actor, cluster)
    if was == ClusterStatus.DISMISSED:
        return mark_not_duplicate(actor, cluster)
    _point_members_at_canonical(cluster)
    return cluster


def _rescore(cluster: DupCluster) -> None:
    """Member similarities are to the canonical; recompute them for a new one."""
    from curation.dedup.clusters import _cosine, _vectors

    members = list(cluster.members.all())
    vectors = _vectors({m.key for m in members})
    canonical = canonical_key(cluster)
    for m in members:
        m.similarity = (
            1.0 if m.key == canonical else _cosine(vectors.get(m.key), vectors.get(canonical))
        )
    DupMember.objects.bulk_update(members, ["similarity"])


def _point_members_at_canonical(cluster: DupCluster) -> None:
    canonical = canonical_key(cluster)
    for m in _sample_members(cluster):
        assert m.sample is not None
        if m.key == canonical:
            Sample.objects.filter(pk=m.sample.pk).update(
                dup_status=DupStatus.UNIQUE, duplicate_of_id=None, duplicate_of_seed_id=None
            )
        else:
            status = (
                m.sample.dup_status
                if m.sample.dup_status in (DupStatus.NEAR_DUPLICATE, DupStatus.EXACT_DUPLICATE)
                else DupStatus.NEAR_DUPLICATE
            )
            Sample.objects.filter(pk=m.sample.pk).update(
                dup_status=status,
                duplicate_of_id=cluster.canonical_sample_id,
                duplicate_of_seed_id=cluster.canonical_seed_id,
            )
