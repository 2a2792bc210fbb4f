from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from curation.samples.schemas import SampleOut


class QueueIn(Schema):
    name: str
    filters: dict[str, Any] = {}
    overlap: int = 1
    order: str = "random"
    guidelines: str = ""
    questions: list[dict[str, Any]] = []
    lease_seconds: int = 600


class QueueOut(Schema):
    id: int
    project_id: int
    name: str
    overlap: int
    order: str
    guidelines: str
    questions: list[dict[str, Any]]
    items: int
    reviews_done: int
    reviews_needed: int
    in_flight: int
    progress: float
    agreement: dict[str, Any]
    annotators: list[dict[str, Any]]
    # A run's "judge unsure" queue: {"run", "below", "auto_accepted", "spot_check"}; else null.
    feed: dict[str, Any] | None = None


class AssignmentOut(Schema):
    id: int
    queue_id: int
    lease_expires_at: datetime
    sample: SampleOut


class SubmitIn(Schema):
    decision: str = ""
    rating: int | None = None
    labels: list[str] = []
    ranking: list[Any] | None = None
    messages: list[dict[str, Any]] | None = None
    label: str | None = Field(
        default=None,
        max_length=200,
        description="Classification samples: the corrected label. It must be in the sample's "
        "label space when one is known (the labels the recipe stored, else those of the run's "
        "labelled seeds); otherwise the answer is 400. Omit it, or send the current label, to "
        "keep the label. A change is a revision: undo takes it back.",
    )
    comment: str = ""
    answers: dict[str, Any] = {}
    time_spent_ms: int = 0


class ReviewOut(Schema):
    id: int
    assignment_id: int | None
    decision: str
    rating: int | None
    edited: bool


class QuestionIn(Schema):
    type: str
    id: str = ""
    title: str = ""
    scale: int | None = None
    options: list[str] | str | None = None
    multiple: bool = True
