"""Near-duplicate edges, the clusters union-find makes of them, and rescan jobs.

Edges are stored so that detection at sample creation only queries the new samples'
neighbours, and clusters are stored so that review and export filter on them cheaply.
A cluster that a curator decided (kept its canonical, or dismissed as not duplicates) is
frozen: rescans never touch it, and the edges among its members no longer count.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.projects.models import Project
from curation.samples.models import Sample
from curation.seeds.models import Seed


class Scope(models.TextChoices):
    RUN = "run", "Within a run"
    PROJECT = "project", "Across the project"
    SEEDS = "seeds", "Against the seeds"
    EXPORTS = "exports", "Against earlier exports"


class DupEdge(models.Model):
    """Sample `a` is at least the threshold similar to sample `b` or to seed `seed`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    a = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="+")
    b = models.ForeignKey(Sample, null=True, on_delete=models.CASCADE, related_name="+")
    seed = models.ForeignKey(Seed, null=True, on_delete=models.CASCADE, related_name="+")
    similarity = models.FloatField()
    exact = models.BooleanField(default=False)  # same normalised-text hash

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(b__isnull=False, seed__isnull=True)
                | Q(b__isnull=True, seed__isnull=False),
                name="dupedge_one_target",
            ),
            # Sample pairs are stored once, smaller id first.
            models.CheckConstraint(
                condition=Q(b__isnull=True) | Q(a__lt=models.F("b")), name="dupedge_ordered"
            ),
            models.UniqueConstraint(
                fields=["a", "b"], condition=Q(b__isnull=False), name="dupedge_pair_once"
            ),
            models.UniqueConstraint(
                fields=["a", "seed"], condition=Q(seed__isnull=False), name="dupedge_seed_once"
            ),
        ]
        indexes = [
            models.Index(fields=["project"], name="dupedge_project"),
            models.Index(fields=["b"], name="dupedge_b"),
        ]

    def __str__(self) -> str:
        return f"{self.a_id}~{self.b_id or f'seed {self.seed_id}'} {self.similarity:.3f}"


class ClusterStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Canonical kept"
    DISMISSED = "dismissed", "Not duplicates"


class DupClusterQuerySet(models.QuerySet["DupCluster"]):
    def open(self) -> DupClusterQuerySet:
        return self.filter(status=ClusterStatus.OPEN)


class DupCluster(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dup_clusters")
    # sha256 of the sorted member keys: a rescan that finds the same group keeps the row.
    signature = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=ClusterStatus.choices, default=ClusterStatus.OPEN
    )
    canonical_sample = models.ForeignKey(
        Sample, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    canonical_seed = models.ForeignKey(
        Seed, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    size = models.PositiveIntegerField(default=0)
    max_similarity = models.FloatField(default=0.0)
    threshold = models.FloatField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DupClusterQuerySet.as_manager()

    class Meta:
        ordering = ["-max_similarity", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "signature"],
                condition=Q(status="open"),
                name="dupcluster_open_once",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ClusterStatus]),
                name="dupcluster_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["project", "status"], name="dupcluster_project_status")]

    def __str__(self) -> str:
        return f"cluster {self.pk} ({self.size})"


class DupMember(models.Model):
    cluster = models.ForeignKey(DupCluster, on_delete=models.CASCADE, related_name="members")
    sample = models.ForeignKey(Sample, null=True, on_delete=models.CASCADE, related_name="+")
    seed = models.ForeignKey(Seed, null=True, on_delete=models.CASCADE, related_name="+")
    similarity = models.FloatField()  # cosine to the cluster's canonical member
    exported = models.BooleanField(default=False)
    # The sample's fields before a decision changed them, so that the decision can be undone.
    before = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-similarity", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample__isnull=False, seed__isnull=True)
                | Q(sample__isnull=True, seed__isnull=False),
                name="dupmember_one_target",
            ),
            models.UniqueConstraint(
                fields=["cluster", "sample"],
                condition=Q(sample__isnull=False),
                name="dupmember_sample_once",
            ),
            models.UniqueConstraint(
                fields=["cluster", "seed"],
                condition=Q(seed__isnull=False),
                name="dupmember_seed_once",
            ),
        ]
        indexes = [models.Index(fields=["sample"], name="dupmember_sample")]

    def __str__(self) -> str:
        return f"{self.cluster_id}: {self.sample_id or f'seed {self.seed_id}'}"

    @property
    def key(self) -> str:
        return f"x{self.sample_id}" if self.sample_id else f"s{self.seed_id}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DedupJob(models.Model):
    """A project-wide rescan: embed what is missing or stale, recompute edges and clusters."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dedup_jobs")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    scopes = models.JSONField(default=list)
    threshold = models.FloatField()
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in JobStatus]), name="dedupjob_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"dedup job {self.pk} {self.status}"

    @property
    def progress(self) -> float:
        return (
            1.0 if self.status == JobStatus.DONE else (self.done / self.total if self.total else 0)
        )
