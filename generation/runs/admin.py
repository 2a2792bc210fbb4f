from django.contrib import admin

from generation.runs.models import Judgement, LLMCall, Run, Sample


@admin.register(Run)
class RunAdmin(admin.ModelAdmin[Run]):
    list_display = ["id", "project", "recipe_id", "status", "produced", "target_count", "cost"]
    list_filter = ["status", "recipe_id"]
    raw_id_fields = ["seed_set", "endpoint", "judge_endpoint"]


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin[Sample]):
    list_display = ["id", "project", "kind", "status", "run", "judge_score", "dup_status"]
    list_filter = ["kind", "status", "dup_status"]
    raw_id_fields = ["run", "parent", "duplicate_of"]
    exclude = ["embedding"]


@admin.register(Judgement)
class JudgementAdmin(admin.ModelAdmin[Judgement]):
    list_display = ["sample", "rubric_id", "judge_model", "score", "created_at"]
    raw_id_fields = ["sample", "run"]


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
