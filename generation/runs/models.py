"""Runs, the samples they produce, the judgements on them and every LLM call made."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from curation.projects.models import ModelEndpoint, Project
from curation.seeds.models import Seed, SeedSet


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    BUDGET_EXHAUSTED = "budget_exhausted", "Budget exhausted"


TERMINAL_STATUSES = frozenset(
    {RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.BUDGET_EXHAUSTED}
)

# The status machine: which transitions a service may make.
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    RunStatus.QUEUED: frozenset(
        {RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.CANCELLED, RunStatus.FAILED}
    ),
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.PAUSED,
            RunStatus.COMPLETED,
            RunStatus.CANCELLED,
            RunStatus.FAILED,
            RunStatus.BUDGET_EXHAUSTED,
        }
    ),
    RunStatus.PAUSED: frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
    RunStatus.FAILED: frozenset({RunStatus.QUEUED}),  # "retry" re-queues a failed run
    RunStatus.BUDGET_EXHAUSTED: frozenset({RunStatus.QUEUED}),  # after raising the budget
}


class RunQuerySet(models.QuerySet["Run"]):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])


class Run(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=200, blank=True)
    recipe_id = models.CharField(max_length=64)
    recipe_version = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    seed_set = models.ForeignKey(
        SeedSet, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    endpoint = models.ForeignKey(
        ModelEndpoint, null=True, on_delete=models.PROTECT, related_name="runs"
    )
    judge_endpoint = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="judge_runs"
    )
    # The recipe's roles mapped to endpoint ids: {"policy": 3, "judge": 5}. `endpoint` and
    # `judge_endpoint` mirror policy and judge, and are all that runs made before roles have.
    endpoints = models.JSONField(default=dict, blank=True)
    # Stop as failed after this many finished items in a row with no sample (None: the
    # default, max(200, 5 x target)).
    futility_limit = models.PositiveIntegerField(null=True, blank=True)
    target_count = models.PositiveIntegerField()
    budget_tokens = models.BigIntegerField(null=True, blank=True)
    budget_cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)

    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    # Counters, checkpointed by the driver in short transactions.
    produced = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    filtered = models.JSONField(default=dict, blank=True)  # {"rouge_l": 12, "keyword": 3, ...}
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0))
    last_error = models.TextField(blank=True)
    state = models.JSONField(default=dict, blank=True)  # the recipe's resumable cursor

    # The driver's lease: one slice at a time per run. A stale heartbeat lets the sweeper
    # (or a redelivered task) take over after a worker crash.
    lease_token = models.CharField(max_length=32, blank=True)
    slices = models.PositiveIntegerField(default=0)
    active_seconds = models.FloatField(default=0.0)  # time spent in slices, for samples/s and ETA
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(target_count__gte=1), name="run_target_positive"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in RunStatus]), name="run_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(budget_tokens__isnull=True) | Q(budget_tokens__gt=0),
                name="run_budget_tokens_positive",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat")]

    def __str__(self) -> str:
        return self.name or f"{self.recipe_id} #{self.pk}"

    def can_move_to(self, status: str) -> bool:
        return status in RUN_TRANSITIONS[self.status]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class RunItem(models.Model):
    """A finished unit of work: it produced samples, was filtered, or failed.

    Written in the same transaction as the samples it produced, so a resumed run
    neither redoes nor loses work. (Samples also carry their own keys.)
    """

    class Outcome(models.TextChoices):
        PRODUCED = "produced", "Produced"
        FILTERED = "filtered", "Filtered"
        FAILED = "failed", "Failed"
        PENDING = "pending", "Pending"  # spawned by another item, not started yet
        STARTED = "started", "Started"  # unfinished: its journal is in `checkpoint`

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="items")
    work_key = models.CharField(max_length=200)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    # The last model output of a filtered or failed item (truncated), to show why.
    raw_output = models.TextField(blank=True)
    # Spawned items: their lane (which part of the recipe runs them), payload and order.
    lane = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(null=True, blank=True)
    priority = models.IntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)  # failed tries, for retry on resume
    # The item's journal of finished steps, while it is unfinished (or failed).
    checkpoint = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "work_key"], name="runitem_once_per_key"),
        ]
        indexes = [
            models.Index(
                fields=["run", "priority", "id"],
                condition=Q(outcome__in=["pending", "started", "failed"]),
                name="runitem_open",
            ),
            models.Index(fields=["run", "outcome", "reason"], name="runitem_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.work_key} {self.outcome}"


class RunPoolEntry(models.Model):
    """A text a run admitted to one of its DEDUP-L / DEDUP-E pools (with its unit vector)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="pool_entries")
    pool = models.CharField(max_length=64)
    key = models.CharField(max_length=240)
    text = models.TextField()
    vector = models.BinaryField(null=True, blank=True)  # float32, unit length

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "pool", "key"], name="runpool_once_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.pool}:{self.key}"


class PromptOverride(models.Model):
    """A project's own version of a recipe's prompt template. Each save is a new version."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompt_overrides")
    recipe_id = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recipe_id", "name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "recipe_id", "name", "version"], name="prompt_override_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipe_id}/{self.name} p{self.version}"


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


class SampleQuerySet(models.QuerySet["Sample"]):
    def pending(self) -> SampleQuerySet:
        return self.filter(status=SampleStatus.PENDING)

    def accepted(self) -> SampleQuerySet:
        return self.filter(status=SampleStatus.ACCEPTED)

    def for_project(self, project: Project) -> SampleQuerySet:
        return self.filter(project=project)


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
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="samples"
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

    objects = SampleQuerySet.as_manager()

    KINDS_NEEDING_PAIR: ClassVar[frozenset[str]] = frozenset({SampleKind.PREFERENCE})

    class Meta:
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
    rationale = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="judgements"
    )
    work_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = no key
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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


class LLMCall(models.Model):
    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="llm_calls")
    endpoint = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_calls"
    )
    model = models.CharField(max_length=200)
    purpose = models.CharField(max_length=64, blank=True)  # generate | judge | embed | test
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    latency_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["run", "created_at"], name="llmcall_run_time")]

    def __str__(self) -> str:
        return f"{self.model} {self.status}"
