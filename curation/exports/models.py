"""Exports: immutable, versioned datasets with a manifest, files and checksums."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.projects.models import Project


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class ExportFormat(models.TextChoices):
    OPENAI = "openai", "OpenAI messages JSONL"
    SHAREGPT = "sharegpt", "ShareGPT"
    ALPACA = "alpaca", "Alpaca"
    DPO = "dpo", "DPO (prompt/chosen/rejected)"
    DPO_CONVERSATIONAL = "dpo_conversational", "DPO, conversational"
    KTO = "kto", "KTO"
    CLASSIFICATION = "classification", "Classification (text, label)"
    BFCL = "bfcl", "BFCL function calling (question, function, ground_truth)"
    STEP_LABELS = "step_labels", "Step labels of agent trajectories (PRM)"
    TRAJECTORY_PAIRS = "trajectory_pairs", "Trajectory pairs: succeeded vs failed (DPO)"


class Export(models.Model):
    """A DatasetVersion. Once complete, nothing about it changes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=24, choices=ExportFormat.choices)
    parquet = models.BooleanField(default=False)
    filters = models.JSONField(default=dict, blank=True)
    split = models.JSONField(default=dict, blank=True)  # {"validation": 0.1, "seed": 42}
    options = models.JSONField(default=dict, blank=True)  # {"include_scores": true, ...}
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_written = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=list, blank=True)  # [{"name", "path", "bytes", "sha256"}]
    sha256 = models.CharField(max_length=64, blank=True)  # of the zip bundle
    sample_count = models.PositiveBigIntegerField(default=0)  # distinct samples behind the rows
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Bumped with every chunk; a build whose heartbeat went stale may be taken over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="export_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="export_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} v{self.version}"

    @property
    def is_done(self) -> bool:
        return self.status in (ExportStatus.COMPLETE, ExportStatus.FAILED)

    @property
    def progress(self) -> float:
        if self.status == ExportStatus.COMPLETE:
            return 1.0
        return min(1.0, self.rows_written / self.rows_total) if self.rows_total else 0.0

    def file_named(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.files if f["name"] == name), None)
