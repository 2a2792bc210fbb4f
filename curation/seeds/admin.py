from django.contrib import admin

from curation.seeds.models import Seed, SeedSet


@admin.register(SeedSet)
class SeedSetAdmin(admin.ModelAdmin[SeedSet]):
    list_display = ["name", "project", "seed_count", "source_format", "created_at"]


@admin.register(Seed)
class SeedAdmin(admin.ModelAdmin[Seed]):
    list_display = ["seed_set", "position", "kind"]
    list_filter = ["kind"]
    search_fields = ["text"]
    raw_id_fields = ["seed_set"]
    exclude = ["embedding"]
