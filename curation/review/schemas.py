from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from curation.api_schema import INT32_MAX, NO_NUL, SMALLINT_MAX, text
from curation.review.models import QueueOrder, Review
from curation.samples.schemas import SampleOut


class QueueIn(Schema):
    name: str = text(min_length=1, max_length=200)
    filters: dict[str, Any] = {}
    overlap: int = Field(default=1, ge=1, le=SMALLINT_MAX)
    order: QueueOrder = QueueOrder.RANDOM
    guidelines: str = text("")
    questions: list[dict[str, Any]] = Field(default=[], max_length=100)
    lease_seconds: int = Field(default=600, ge=1, le=INT32_MAX)


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
    # Conversations: reviews_with_marks, flagged_turns, rated_turns, truncated.
    turns: dict[str, int] = {}


class AssignmentOut(Schema):
    id: int
    queue_id: int
    lease_expires_at: datetime
    sample: SampleOut


class SubmitIn(Schema):
    decision: Review.Decision = Review.Decision.NONE
    rating: int | None = Field(default=None, ge=1, le=10)
    labels: list[str] = Field(default=[], max_length=50)
    ranking: list[Any] | None = None
    messages: list[dict[str, Any]] | None = None
    label: str | None = Field(
        default=None,
        max_length=200,
        pattern=NO_NUL,
        description="Classification samples: the corrected label. It must be in the sample's "
        "label space when one is known (the labels the recipe stored, else those of the run's "
        "labelled seeds); otherwise the answer is 400. Omit it, or send the current label, to "
        "keep the label. A change is a revision: undo takes it back.",
    )
    comment: str = text("")
    answers: dict[str, Any] = {}
    time_spent_ms: int = Field(default=0, ge=0, le=INT32_MAX)
    turns: dict[str, Any] | None = Field(
        default=None,
        description="Conversation samples: marks on single turns, keyed by turn number (the "
        'non-system messages counted from 1), e.g. {"3": {"flag": true, "reason": "off '
        'topic"}, "5": {"rating": 2}}. A mark takes flag (bool), reason (text up to 300 '
        "characters, with a flag) and rating (1-5). A turn out of range, another kind of "
        "sample or a malformed mark is 400.",
    )
    truncate_after: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="Conversation samples: keep the turns up to and including this one "
        "(non-system messages counted from 1, as shown before any cut) and drop the rest. "
        "Applied after `messages` edits, as one revision that undo takes back. At least one "
        "user turn followed by an assistant turn must remain; otherwise, or out of range, 400.",
    )

    tool_calls: dict[str, list[dict[str, Any]]] | None = Field(
        default=None,
        description="Tool trajectories: edited call arguments by message index, e.g. "
        '{"1": [{"id": "call_1", "arguments": {"city": "Oslo"}}]} (arguments as an object or '
        "its JSON text). Applied after `messages`. Each changed call must be valid JSON and "
        "fit its tool's JSON Schema (known function, required parameters, no unknown ones, "
        "types); otherwise 400 and nothing is saved. A change is a revision: undo takes it back.",
    )
    first_wrong_step: int | None = Field(
        default=None,
        ge=1,
        le=SMALLINT_MAX,
        description="Agent trajectories (tool_trajectory samples, or any sample with "
        "extra.steps): the first step the annotator found wrong, steps counted from 1 (each "
        "assistant turn with its tool calls and their results, or each entry of extra.steps). "
        "The steps before it count as right and those after it as unlabelled in the "
        "step-labelled export. A step beyond the trajectory's last, or a sample without "
        "steps, is 400; below 1, 422. Omit it (or null) to mark none.",
    )


class ReviewOut(Schema):
    id: int
    assignment_id: int | None
    decision: str
    rating: int | None
    edited: bool
    turns: dict[str, Any] = {}
    truncated_after: int | None = None
    first_wrong_step: int | None = None

    @staticmethod
    def resolve_truncated_after(obj: Any) -> int | None:
        """The turn this review cut the conversation after, if it did."""
        return (
            obj.revisions.filter(truncated_after__isnull=False)
            .values_list("truncated_after", flat=True)
            .first()
        )


class QuestionIn(Schema):
    type: Literal["decision", "rating", "labels", "text", "ranking"]
    id: str = text("", max_length=100)
    title: str = text("", max_length=500)
    scale: int | None = Field(default=None, ge=2, le=10)
    options: list[str] | str | None = None
    multiple: bool = True
