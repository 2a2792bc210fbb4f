from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import Field

from curation.api_schema import INT64_MAX, errors
from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.review import services
from curation.review.access import own_assignment
from curation.review.calibration import judge_vs_human
from curation.review.labels import InvalidLabel
from curation.review.models import ReviewQueue
from curation.review.presenters import assignment_out, queue_summary
from curation.review.schemas import (
    AssignmentOut,
    QuestionIn,
    QueueIn,
    QueueOut,
    ReviewOut,
    SubmitIn,
)
from curation.review.steps import InvalidStep
from curation.review.tool_calls import InvalidToolCall
from curation.review.turns import InvalidTurns

router = Router(tags=["review"])


@router.post("/projects/{project_id}/queues", response={201: QueueOut, **errors(400)})
def create_queue(request: HttpRequest, project_id: int, payload: QueueIn) -> Status[dict[str, Any]]:
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        queue = services.create_queue(request.user, project, **payload.dict())
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return Status(201, queue_summary(queue))


@router.get("/queues/{queue_id}/judge-vs-human", response=list[dict[str, Any]])
def get_judge_vs_human(request: HttpRequest, queue_id: int) -> list[dict[str, Any]]:
    """Per rubric: how the AI judge's scores line up with the people's decisions."""
    return judge_vs_human(object_for(request.user, ReviewQueue.objects.all(), queue_id))


@router.get("/queues/{queue_id}", response=QueueOut)
def get_queue(request: HttpRequest, queue_id: int) -> dict[str, Any]:
    return queue_summary(object_for(request.user, ReviewQueue.objects.all(), queue_id))


@router.post("/queues/{queue_id}/questions", response={201: dict[str, Any], **errors(400)})
def add_question(
    request: AuthedRequest, queue_id: int, payload: QuestionIn
) -> Status[dict[str, Any]]:
    """Ask one more question (decision, rating, labels, text or ranking) from now on."""
    queue = object_for(request.user, ReviewQueue.objects.all(), queue_id, Role.CURATOR)
    try:
        return Status(
            201, services.add_question(request.user, queue, payload.dict(exclude_none=True))
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc


@router.post("/queues/{queue_id}/claim", response={200: AssignmentOut, 204: None, **errors(409)})
def claim(request: AuthedRequest, queue_id: int) -> Any:
    queue = object_for(request.user, ReviewQueue.objects.all(), queue_id, Role.ANNOTATOR)
    try:
        assignment = services.claim_next(request.user, queue)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    if assignment is None:
        return Status(204, None)
    return assignment_out(assignment)


@router.post("/assignments/{assignment_id}/submit", response={200: ReviewOut, **errors(400, 409)})
def submit(request: AuthedRequest, assignment_id: int, payload: SubmitIn) -> Any:
    """Submit the review of a claimed item: a decision, answers, and edits (messages, a
    classification sample's `label`, a conversation's `truncate_after`), plus marks on
    single turns (`turns`) and an agent trajectory's `first_wrong_step`. A label outside
    the sample's label space, turn marks or a truncation the sample cannot take, call
    arguments (`messages` or `tool_calls`) that break their tool's schema, or a first wrong
    step outside the trajectory's steps, is 400."""
    assignment = own_assignment(request.user, assignment_id)
    try:
        review = services.submit_review(request.user, assignment, **payload.dict())
    except (InvalidLabel, InvalidTurns, InvalidToolCall, InvalidStep) as exc:
        raise HttpError(400, str(exc)) from exc
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return review


@router.post("/assignments/{assignment_id}/skip", response={204: None, **errors(409)})
def skip(request: AuthedRequest, assignment_id: int) -> Status[None]:
    assignment = own_assignment(request.user, assignment_id)
    try:
        services.skip(request.user, assignment)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return Status(204, None)


@router.post("/queues/{queue_id}/undo", response={200: AssignmentOut, **errors(409)})
def undo(request: AuthedRequest, queue_id: int) -> dict[str, Any]:
    queue = object_for(request.user, ReviewQueue.objects.all(), queue_id, Role.ANNOTATOR)
    try:
        assignment = services.undo_last(request.user, queue)
    except ServiceError as exc:
        raise HttpError(409, str(exc)) from exc
    return assignment_out(assignment)


class BulkIn(Schema):
    filters: dict[str, Any] = {}
    decision: Literal["", "accept", "reject"] = ""  # needed with confirm_count
    confirm_count: int | None = Field(default=None, ge=0, le=INT64_MAX)  # omit to get the count


@router.post("/projects/{project_id}/samples/bulk", response={200: dict[str, Any], **errors(400)})
def bulk_decide(request: AuthedRequest, project_id: int, payload: BulkIn) -> dict[str, Any]:
    """Two steps: without confirm_count, report how many samples match; with it, apply."""
    project = project_for(request.user, project_id, Role.CURATOR)
    try:
        count = services.filtered_samples(project, payload.filters).count()
        if payload.confirm_count is None:
            return {"matching": count, "applied": False}
        done = services.bulk_decide(
            request.user, project, payload.filters, payload.decision, payload.confirm_count
        )
    except ServiceError as exc:
        raise HttpError(400, str(exc)) from exc
    return {"matching": done, "applied": True}


@router.get("/samples/{sample_id}/history", response=dict[str, Any])
def sample_history(request: AuthedRequest, sample_id: int) -> dict[str, Any]:
    """Every audited change to the sample (reviews, undo, adjudication, bulk, dedup) and its
    edits as diffs, oldest first."""
    from curation.review.history import sample_history as history
    from curation.samples.models import Sample

    sample = object_for(request.user, Sample.objects.all(), sample_id)
    curator = membership_for(request.user, sample.project_id).has_role(Role.CURATOR)
    return history(sample, only_actor=None if curator else request.user)
