from django.contrib import admin
from django.http import HttpRequest

from curation.projects.models import (
    ApiToken,
    AuditEvent,
    LLMCall,
    Membership,
    ModelEndpoint,
    Project,
)


class MembershipInline(admin.TabularInline[Membership, Project]):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin[ModelEndpoint]):
    list_display = ["name", "project", "base_url", "chat_model", "max_concurrency", "is_default"]
    list_filter = ["is_default"]
    # The encrypted key never shows; set keys through the UI or API.
    exclude = ["api_key_encrypted"]
    readonly_fields = ["api_key_hint"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["name", "user", "hint", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]
    readonly_fields = ["hint", "last_used_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["created_at", "actor", "verb", "object_type", "object_id", "project"]
    list_filter = ["verb"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False  # the audit log is append-only


@admin.register(LLMCall)
class LLMCallAdmin(admin.ModelAdmin[LLMCall]):
    list_display = [
        "created_at",
        "model",
        "purpose",
        "status",
        "tokens_in",
        "tokens_out",
        "latency_ms",
    ]
    list_filter = ["status", "purpose"]
    raw_id_fields = ["run", "endpoint"]
