"""Review queues, leased assignments, reviews and the revisions that edits make."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.projects.models import Project
from curation.samples.models import Sample


class QueueOrder(models.TextChoices):
    RANDOM = "random", "Random"
    LOWEST_SCORE = "lowest_score", "Lowest judge score first"
    MOST_DISAGREEMENT = "most_disagreement", "Most disagreement first"
    LEAST_CONFIDENT = "least_confident", "Least confident judge first"


class ReviewQueue(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=200)
    guidelines = models.TextField(blank=True)  # markdown, rendered through the sanitiser
    filters = models.JSONField(default=dict, blank=True)
    # [{"id": "decision", "type": "decision"}, {"id": "quality", "type": "rating", "scale": 5}, ...]
    questions = models.JSONField(default=list, blank=True)
    overlap = models.PositiveSmallIntegerField(default=1)
    order = models.CharField(max_length=20, choices=QueueOrder.choices, default=QueueOrder.RANDOM)
    lease_seconds = models.PositiveIntegerField(default=600)
    is_open = models.BooleanField(default=True)
    # A run's "judge unsure" queue: new samples of `feed_run` below `auto_accept_at` join it
    # as they are stored (curation/review/routing.py); the others are accepted automatically.
    feed_run = models.OneToOneField(
        "runs.Run",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_queue",
    )
    auto_accept_at = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="queue_name_unique"),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="queue_overlap_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class QueueItem(models.Model):
    """A sample's place in a queue, with the counters that make claiming race-free."""

    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="items")
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="queue_items")
    reviews_done = models.PositiveSmallIntegerField(default=0)
    in_flight = models.PositiveSmallIntegerField(default=0)
    sort_key = models.FloatField(default=0.0)  # precomputed from the queue's order
    disagreement = models.FloatField(default=0.0)
    final_decision = models.CharField(max_length=16, blank=True)
    # True once the item needs nothing more (all its reviews, or adjudicated). Claiming scans
    # only unsettled items through a partial index, so a queue that is 99% done stays fast.
    settled = models.BooleanField(default=False)
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adjudicated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "sample"], name="queueitem_once_per_queue"),
        ]
        indexes = [
            models.Index(
                fields=["queue", "sort_key", "id"],
                condition=Q(settled=False),
                name="queueitem_claimable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue_id}/{self.sample_id}"


class AssignmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    SUBMITTED = "submitted", "Submitted"
    EXPIRED = "expired", "Expired"
    SKIPPED = "skipped", "Skipped"
    UNDONE = "undone", "Undone"


class Assignment(models.Model):
    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(
        max_length=12, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN
    )
    lease_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The invariant holds even if claiming code is wrong.
            models.UniqueConstraint(
                fields=["item", "annotator"],
                condition=Q(status="open"),
                name="assignment_one_open_per_annotator",
            ),
        ]
        indexes = [
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="open"),
                name="assignment_open_lease",
            ),
            models.Index(fields=["annotator", "status"], name="assignment_annotator"),
            # Claiming asks "has this annotator had this item?" for each candidate.
            models.Index(fields=["item", "annotator"], name="assignment_item_annotator"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Review(models.Model):
    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        NONE = "", "No decision"

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="reviews")
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="review"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    labels = models.JSONField(default=list, blank=True)
    ranking = models.JSONField(null=True, blank=True)  # candidate ids, best first; ties as lists
    answers = models.JSONField(default=dict, blank=True)  # answers to custom questions
    # Marks on single turns of a conversation (non-system messages, counted from 1), keyed
    # by the turn number as text: {"3": {"flag": true, "reason": "..."}, "5": {"rating": 2}}.
    turns = models.JSONField(default=dict, blank=True)
    # Agent trajectories: the first step the annotator found wrong (steps counted from 1,
    # curation/review/steps.py); None: none marked. The step-labelled export reads it.
    first_wrong_step = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    edited = models.BooleanField(default=False)
    time_spent_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="review_one_per_annotator"),
            models.CheckConstraint(
                condition=Q(first_wrong_step__isnull=True) | Q(first_wrong_step__gte=1),
                name="review_first_wrong_step_from_one",
            ),
        ]

    def __str__(self) -> str:
        return f"review {self.pk} {self.decision}"


class SampleRevision(models.Model):
    """An edit of a sample's content (its messages, and a classification label): the sample
    holds the edited content, the revisions what it was before, so undo can put it back."""

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    messages_before = models.JSONField()
    messages_after = models.JSONField()
    # A classification label changed with the edit; None when the revision left it alone.
    label_before = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    label_after = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # A truncation: the turn the conversation was cut after (None: not a truncation).
    truncated_after = models.PositiveIntegerField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sample", "number"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "number"], name="revision_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} r{self.number}"
