from django.contrib import admin

from generation.runs.models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin[Run]):
    list_display = ["id", "project", "recipe_id", "status", "produced", "target_count", "cost"]
    list_filter = ["status", "recipe_id"]
    raw_id_fields = ["seed_set", "endpoint", "judge_endpoint"]
