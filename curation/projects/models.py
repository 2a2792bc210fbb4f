"""Projects, who belongs to them, the model endpoints they call, API tokens and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from curation.projects import secrets_box

if TYPE_CHECKING:
    from generation.llm import CallRecord


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    ANNOTATOR = "annotator", "Annotator"
    CURATOR = "curator", "Curator"
    OWNER = "owner", "Owner"


# Each role can do everything the roles before it can.
ROLE_RANK: dict[str, int] = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.CURATOR: 2, Role.OWNER: 3}


def default_dedup_scopes() -> list[str]:
    return ["project", "seeds", "exports"]


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    # Near-duplicate threshold (cosine similarity of MiniLM embeddings) used by dedup.
    # 0.88: planted paraphrases (reworded request, lightly reworded answer) score 0.87-0.99
    # while distinct requests on the same subjects stay below 0.88 (README: Near-duplicates).
    dedup_threshold = models.FloatField(default=0.88)
    # Where near-duplicates are looked for: run, project, seeds, exports (curation/dedup).
    dedup_scopes = ArrayField(
        models.CharField(max_length=16), default=default_dedup_scopes, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dedup_threshold__gt=0) & Q(dedup_threshold__lte=1),
                name="project_dedup_threshold_in_range",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_one_per_user"),
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def validate_base_url(value: str) -> None:
    """http(s) with a host. Django's URLValidator would refuse single-label hosts such as
    `http://vllm:8000/v1` (a compose service), which are normal for model servers."""
    from urllib.parse import urlsplit

    from django.core.exceptions import ValidationError

    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(
            "Enter an http:// or https:// URL with a host, e.g. http://127.0.0.1:8081/v1."
        )


class ModelEndpoint(models.Model):
    """Any OpenAI-compatible server. The API key is encrypted at rest or read from an env var."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=100)
    base_url = models.CharField(max_length=500, validators=[validate_base_url])
    # Either a Fernet token (encrypted key) or, with api_key_env set, nothing stored at all.
    api_key_encrypted = models.TextField(blank=True)
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Read the key from this environment variable."
    )
    api_key_hint = models.CharField(max_length=16, blank=True)  # e.g. "…3f9a", safe to show
    chat_model = models.CharField(max_length=200)
    judge_model = models.CharField(max_length=200, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    max_concurrency = models.PositiveIntegerField(default=8)
    rpm = models.PositiveIntegerField(null=True, blank=True)
    tpm = models.PositiveIntegerField(null=True, blank=True)
    price_in_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    price_out_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    timeout_s = models.FloatField(default=120.0)
    is_default = models.BooleanField(default=False)
    # What "Test connection" found the endpoint can do (generation/capabilities.py):
    # {"chat": true, "n": false, "logprobs": true, ..., "checked_at": "..."}; {} = never probed.
    capabilities = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="endpoint_name_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_default=True), name="endpoint_one_default"
            ),
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1), name="endpoint_concurrency_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def set_api_key(self, key: str) -> None:
        key = key.strip()
        self.api_key_encrypted = secrets_box.encrypt(key) if key else ""
        self.api_key_hint = ("…" + key[-4:]) if len(key) >= 8 else ("set" if key else "")

    def get_api_key(self) -> str:
        import os

        if self.api_key_env:
            return os.environ.get(self.api_key_env, "")
        return secrets_box.decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""

    @property
    def key_display(self) -> str:
        if self.api_key_env:
            return f"from ${self.api_key_env}"
        return self.api_key_hint or "none"


class ApiToken(models.Model):
    """A bearer token. Only its sha256 is stored; the plain token is shown once."""

    PREFIX = "sbd_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint})"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class AuditEvent(models.Model):
    """Who did what to which object, with the state before and after."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object"),
            models.Index(fields=["project", "-created_at"], name="audit_project_time"),
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.object_type}:{self.object_id}"


class LLMCall(models.Model):
    """One call to a model endpoint (generate, judge, embed), for tokens, cost and errors."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="llm_calls")
    endpoint = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_calls"
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
        db_table = "runs_llmcall"  # the table predates the move from generation/runs
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["run", "created_at"], name="llmcall_run_time")]

    def __str__(self) -> str:
        return f"{self.model} {self.status}"

    @classmethod
    def from_record(cls, project_id: int, record: CallRecord, run_id: int | None = None) -> LLMCall:
        """The row for one call that generation.llm recorded (not saved yet)."""
        return cls(
            project_id=project_id,
            endpoint_id=record.endpoint_id,
            run_id=run_id,
            model=record.model,
            purpose=record.purpose,
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            cost=record.cost,
            latency_ms=record.latency_ms,
            attempts=record.attempts,
            status=cls.Status.OK if record.ok else cls.Status.ERROR,
            error=record.error[:2000],
        )


class SignInFailure(models.Model):
    """Recent failed sign-ins (password or API token) under one key: a user name or an IP.

    curation/projects/throttle.py counts them and slows a key down once it has too many; a
    row older than the window starts again from one.
    """

    key = models.CharField(
        max_length=200, unique=True
    )  # "user:<name>", "ip:<addr>", "token:<addr>"
    count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} ×{self.count}"


class LimitLease(models.Model):
    """One concurrency slot of one endpoint, shared by every worker (generation/limits).

    Free when `holder` is empty or `expires_at` has passed; the holding process renews it.
    Keyed by the endpoint's id without a foreign key: the limiter writes here in raw SQL.
    """

    endpoint_id = models.BigIntegerField()
    slot = models.PositiveIntegerField()
    holder = models.CharField(max_length=200, blank=True)  # "<host>:<pid>:<rand>/<n>"
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint_id", "slot"], name="limit_lease_slot_unique")
        ]

    def __str__(self) -> str:
        return f"endpoint {self.endpoint_id} slot {self.slot}: {self.holder or 'free'}"


class LimitWaiter(models.Model):
    """A process waiting for a slot of an endpoint: others then keep to a fair share."""

    endpoint_id = models.BigIntegerField()
    process = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint_id", "process"], name="limit_waiter_process_unique"
            )
        ]

    def __str__(self) -> str:
        return f"endpoint {self.endpoint_id}: {self.process} waits"


class LimitBucket(models.Model):
    """An endpoint's rpm or tpm token bucket, refilled and debited in one UPDATE."""

    endpoint_id = models.BigIntegerField()
    kind = models.CharField(max_length=3, choices=[("rpm", "rpm"), ("tpm", "tpm")])
    tokens = models.FloatField()  # negative: in debt, the next request waits it out
    stamp = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint_id", "kind"], name="limit_bucket_kind_unique")
        ]

    def __str__(self) -> str:
        return f"endpoint {self.endpoint_id} {self.kind}: {self.tokens:g}"
