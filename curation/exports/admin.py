from django.contrib import admin

from curation.exports.models import Export


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin[Export]):
    list_display = ["project", "version", "format", "status", "rows_written", "created_at"]
    list_filter = ["status", "format"]
