from django.contrib import admin

from generation.runs.models import Run, ToolResponse


@admin.register(Run)
class RunAdmin(admin.ModelAdmin[Run]):
    list_display = ["id", "project", "recipe_id", "status", "produced", "target_count", "cost"]
    list_filter = ["status", "recipe_id"]
    raw_id_fields = ["seed_set", "endpoint", "judge_endpoint"]


@admin.register(ToolResponse)
class ToolResponseAdmin(admin.ModelAdmin[ToolResponse]):
    list_display = ["id", "project", "tool", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["tool"]
    raw_id_fields = ["project"]
    readonly_fields = ["args_key", "arguments", "response", "source", "created_at"]
