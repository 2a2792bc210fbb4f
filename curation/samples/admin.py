from django.contrib import admin

from curation.samples.models import Judgement, Sample


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
