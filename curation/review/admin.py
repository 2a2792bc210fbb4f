from django.contrib import admin

from curation.review.models import Assignment, QueueItem, Review, ReviewQueue, SampleRevision


@admin.register(ReviewQueue)
class ReviewQueueAdmin(admin.ModelAdmin[ReviewQueue]):
    list_display = ["name", "project", "overlap", "order", "is_open"]


@admin.register(QueueItem)
class QueueItemAdmin(admin.ModelAdmin[QueueItem]):
    list_display = ["queue", "sample", "reviews_done", "in_flight", "final_decision"]
    raw_id_fields = ["queue", "sample"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin[Assignment]):
    list_display = ["item", "annotator", "status", "lease_expires_at"]
    raw_id_fields = ["item"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin[Review]):
    list_display = ["item", "annotator", "decision", "rating", "time_spent_ms"]
    raw_id_fields = ["item", "assignment"]


@admin.register(SampleRevision)
class SampleRevisionAdmin(admin.ModelAdmin[SampleRevision]):
    list_display = ["sample", "number", "author", "created_at"]
    raw_id_fields = ["sample", "review"]
