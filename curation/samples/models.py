"""Samples (one training example each), the judgements on them, and their content hash.

The tables keep the names they had in generation/runs (`runs_sample`, `runs_judgement`):
the models moved, the data did not. Runs are referred to by name ("runs.Run") so that
this app imports nothing from generation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from curation.projects.models import Project
from curation.seeds.models import Seed


class SampleKind(models.TextChoices):
    SFT = "sft", "SFT"
    CONVERSATION = "conversation", "Conversation"
    PREFERENCE = "preference", "Preference"
    TOOL_TRAJECTORY = "tool_trajectory", "Tool trajectory"
    CLASSIFICATION = "classification", "Classification"


class SampleStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    NEEDS_REVIEW = "needs_review", "Needs review"


class DupStatus(models.TextChoices):
    UNCHECKED = "unchecked", "Not checked"
    UNIQUE = "unique", "Unique"
    NEAR_DUPLICATE = "near_duplicate", "Near-duplicate"
    EXACT_DUPLICATE = "exact_duplicate", "Exact duplicate"


class Sample(models.Model):
    """One training example: OpenAI chat messages, plus the fields its kind needs."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="samples")
    kind = models.CharField(max_length=20, choices=SampleKind.choices)
    messages = (
        models.JSONField()
    )  # [{"role": ..., "content": ...}, ...]; for preference: the prompt
    tools = models.JSONField(null=True, blank=True)  # OpenAI tool schemas, tool_trajectory only
    chosen = models.JSONField(null=True, blank=True)  # preference: assistant message(s)
    rejected = models.JSONField(null=True, blank=True)
    label = models.CharField(max_length=200, blank=True)  # classification
    extra = models.JSONField(
        default=dict, blank=True
    )  # recipe-specific fields (scores, soft labels)

    # Lineage.
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="samples"
    )
    seed_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    step = models.CharField(max_length=64, blank=True)
    recipe_id = models.CharField(max_length=64, blank=True)
    recipe_version = models.CharField(max_length=32, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=200, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=32, default="run")  # run | import | edit
    # Idempotency: the driver's deterministic key for the unit of work that made this sample.
    work_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = no key
    content_hash = models.CharField(max_length=64)

    status = models.CharField(
        max_length=16, choices=SampleStatus.choices, default=SampleStatus.PENDING
    )
    judge_score = models.FloatField(
        null=True, blank=True
    )  # latest judgement, for filters and order
    # How sure that judging was, 0-1 (generation/recipes/kit/confidence.py); NULL: unknown.
    judge_confidence = models.FloatField(null=True, blank=True)
    # Accepted by its run's rule "confidence ≥ c is accepted" rather than by a person; a
    # human decision clears it (curation/review/routing.py).
    auto_accepted = models.BooleanField(default=False)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)

    embedding = VectorField(dimensions=settings.SEEDBED_EMBEDDING_DIM, null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dim = models.PositiveSmallIntegerField(null=True, blank=True)
    # sha256 of the normalised text (generation/embeddings.py): exact duplicates share it, and
    # a sample whose text no longer hashes to `embedded_hash` was edited and is re-embedded.
    text_hash = models.CharField(max_length=64, blank=True)
    embedded_hash = models.CharField(max_length=64, blank=True)
    dup_status = models.CharField(
        max_length=20, choices=DupStatus.choices, default=DupStatus.UNCHECKED
    )
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicate_of_seed = models.ForeignKey(
        Seed, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    KINDS_NEEDING_PAIR: ClassVar[frozenset[str]] = frozenset({SampleKind.PREFERENCE})

    class Meta:
        db_table = "runs_sample"  # the table predates the app (it began in generation/runs)
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"], name="sample_content_unique_per_project"
            ),
            models.UniqueConstraint(
                fields=["run", "work_key"],
                condition=Q(work_key__isnull=False),
                name="sample_one_per_work_item",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in SampleKind]), name="sample_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in SampleStatus]),
                name="sample_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind=SampleKind.PREFERENCE)
                | (Q(chosen__isnull=False) & Q(rejected__isnull=False)),
                name="sample_preference_has_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="sample_project_status"),
            models.Index(fields=["run", "status"], name="sample_run_status"),
            models.Index(fields=["project", "judge_score"], name="sample_project_score"),
            models.Index(fields=["project", "judge_confidence"], name="sample_project_confidence"),
            models.Index(fields=["project", "dup_status"], name="sample_project_dup"),
            models.Index(fields=["project", "text_hash"], name="sample_project_text_hash"),
            models.Index(
                fields=["project"],
                condition=Q(embedded_hash=""),
                name="sample_to_embed",
            ),
            GinIndex(fields=["tags"], name="sample_tags_gin"),
            HnswIndex(
                name="sample_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"sample {self.pk}"


class Judgement(models.Model):
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="judgements")
    judge_model = models.CharField(max_length=200)
    rubric_id = models.CharField(max_length=64)
    rubric_version = models.CharField(max_length=32, blank=True)
    score = models.FloatField(null=True, blank=True)  # null when the judge's output was unusable
    confidence = models.FloatField(null=True, blank=True)  # 0-1; null: one sample, no spread
    rationale = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="judgements"
    )
    work_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = no key
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "runs_judgement"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sample", "rubric_id", "work_key"],
                condition=Q(work_key__isnull=False),
                name="judgement_one_per_work_item",
            ),
        ]
        indexes = [models.Index(fields=["rubric_id", "judge_model"], name="judgement_rubric")]

    def __str__(self) -> str:
        return f"{self.rubric_id}={self.score} on {self.sample_id}"

    @staticmethod
    def fields_from(verdict: JudgementContent) -> dict[str, Any]:
        """The columns a judge's verdict fills; the caller adds sample, run and work key."""
        return {
            "judge_model": verdict.judge_model,
            "rubric_id": verdict.rubric_id,
            "rubric_version": verdict.rubric_version,
            "score": verdict.score,
            "confidence": getattr(verdict, "confidence", None),
            "rationale": verdict.rationale,
            "raw_output": verdict.raw_output,
        }


def by_decision(qs: Any, decided_by: str = "", confidence_below: float | None = None) -> Any:
    """decided_by "auto" / "people": accepted by a run's confidence rule, or not;
    confidence_below c: judged less sure than c, or of unknown confidence."""
    if decided_by in ("auto", "people"):
        qs = qs.filter(auto_accepted=decided_by == "auto")
    if confidence_below is not None:
        qs = qs.filter(Q(judge_confidence__lt=confidence_below) | Q(judge_confidence__isnull=True))
    return qs


class JudgementContent(Protocol):
    """What a judgement row is built from: a recipe's JudgementDraft, or a judge's result."""

    @property
    def judge_model(self) -> str: ...
    @property
    def rubric_id(self) -> str: ...
    @property
    def rubric_version(self) -> str: ...
    @property
    def score(self) -> float | None: ...
    @property
    def rationale(self) -> str: ...
    @property
    def raw_output(self) -> str: ...


class SampleContent(Protocol):
    """What the content hash reads: a stored Sample, or a draft not saved yet."""

    @property
    def kind(self) -> str: ...
    @property
    def messages(self) -> Any: ...
    @property
    def chosen(self) -> Any: ...
    @property
    def rejected(self) -> Any: ...
    @property
    def label(self) -> str: ...
    @property
    def tools(self) -> Any: ...


def content_hash(draft: SampleContent) -> str:
    body = {
        "kind": draft.kind,
        "messages": draft.messages,
        "chosen": draft.chosen,
        "rejected": draft.rejected,
        "label": draft.label,
        "tools": draft.tools,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
