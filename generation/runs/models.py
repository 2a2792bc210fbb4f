"""Runs, the items they finished and the prompt overrides they use.

Samples, judgements (curation/samples) and LLM calls (curation/projects) point back at runs.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.projects.models import ModelEndpoint, Project
from curation.seeds.models import SeedSet


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
    # Rounds: where a method's loop needs fine-tuning (STaR, LMSI, I-SHEEP, …) a run is one
    # round; the next round is a new run, on the newly trained endpoint, naming this one.
    previous_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_rounds"
    )
    round = models.PositiveIntegerField(default=1)
    # People where the judge is unsure: samples whose judge confidence is below this go to
    # a review queue, the rest are accepted automatically (curation/review/routing.py), and
    # `spot_check` of the confident ones go to the queue too, so agreement can be measured.
    review_below = models.FloatField(null=True, blank=True)
    spot_check = models.FloatField(default=0.0)
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


class ToolResponse(models.Model):
    """A tool's answer to one call, as served (generation/tools/cache.py): the same call is
    answered from here, byte for byte. Keyed by (project, tool, sha256 of the canonical
    arguments); `source` says where the answer first came from."""

    class Source(models.TextChoices):
        IMPLEMENTATION = "implementation", "Implementation"
        SIMULATED = "simulated", "Simulated"
        RECORDED = "recorded", "Recorded"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tool_responses")
    tool = models.CharField(max_length=128)
    args_key = models.CharField(max_length=64)  # sha256 hex of `arguments` (UTF-8)
    arguments = models.TextField()  # canonical JSON: sorted keys, compact, not ASCII-escaped
    response = models.TextField()  # exactly as served
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "tool", "args_key"], name="toolresponse_once_per_call"
            ),
            models.CheckConstraint(
                condition=Q(source__in=["implementation", "simulated", "recorded"]),
                name="toolresponse_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tool}({self.arguments[:60]}) {self.source}"
