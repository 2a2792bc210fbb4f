"""Review pages. The review page swaps one item at a time with htmx; keys drive it."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.http import AuthedRequest
from curation.projects.access import membership_for, object_for, project_for
from curation.projects.models import Role
from curation.projects.services import ServiceError
from curation.review import services
from curation.review.forms import QueueForm
from curation.review.models import Assignment, AssignmentStatus, QueueItem, Review, ReviewQueue


@login_required
def queue_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request.user, project_id)
    project = membership.project
    form = QueueForm(request.POST or None)
    if request.method == "POST":
        project_for(request.user, project_id, Role.CURATOR)
        if form.is_valid():
            d = form.cleaned_data
            try:
                queue = services.create_queue(
                    request.user,
                    project,
                    name=d["name"],
                    filters=form.filters(),
                    overlap=d["overlap"],
                    order=d["order"],
                    guidelines=d["guidelines"],
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Created {queue.name}.")
                return redirect("review:queue", queue.pk)
    ctx = {
        "project": project,
        "queues": project.queues.all(),
        "form": form,
        "can_curate": membership.has_role(Role.CURATOR),
    }
    return render(request, "review/queue_list.html", ctx)


@login_required
def queue_detail(request: AuthedRequest, queue_id: int) -> HttpResponse:
    from curation.review.api import queue_summary

    queue = object_for(request.user, ReviewQueue.objects.select_related("project"), queue_id)
    membership = membership_for(request.user, queue.project_id)
    disputed = (
        QueueItem.objects.filter(queue=queue, disagreement__gt=0, final_decision="")
        .select_related("sample")
        .prefetch_related("reviews__annotator")[:50]
        if membership.has_role(Role.CURATOR)
        else []
    )
    ctx = {
        "project": queue.project,
        "queue": queue,
        "s": queue_summary(queue),
        "disputed": disputed,
        "can_curate": membership.has_role(Role.CURATOR),
        "mine": Review.objects.filter(item__queue=queue, annotator=request.user).count(),
    }
    return render(request, "review/queue_detail.html", ctx)


def _item_context(
    request: AuthedRequest, queue: ReviewQueue, assignment: Assignment | None
) -> dict[str, Any]:
    from curation.review.api import queue_summary

    sample = assignment.item.sample if assignment else None
    candidates = []
    if sample is not None and sample.kind == "preference":
        candidates = [
            {"id": "chosen", "messages": sample.chosen},
            {"id": "rejected", "messages": sample.rejected},
        ]
    return {
        "project": queue.project,
        "queue": queue,
        "assignment": assignment,
        "sample": sample,
        "candidates": candidates,
        "s": queue_summary(queue),
        "mine": Review.objects.filter(item__queue=queue, annotator=request.user).count(),
        "messages_json": json.dumps(sample.messages) if sample else "[]",
    }


def _render_item(
    request: AuthedRequest, queue: ReviewQueue, assignment: Assignment | None
) -> HttpResponse:
    template = "review/review.html"
    if request.htmx:
        template += "#item"
    return render(request, template, _item_context(request, queue, assignment))


@login_required
def review(request: AuthedRequest, queue_id: int) -> HttpResponse:
    queue = object_for(
        request.user, ReviewQueue.objects.select_related("project"), queue_id, Role.ANNOTATOR
    )
    try:
        assignment = services.claim_next(request.user, queue)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("review:queue", queue.pk)
    return _render_item(request, queue, assignment)


def _own_assignment(request: AuthedRequest, assignment_id: int) -> Assignment:
    assignment = object_for(
        request.user,
        Assignment.objects.select_related("item__queue__project"),
        assignment_id,
        Role.ANNOTATOR,
        project_path="item.queue.project_id",
    )
    if assignment.annotator_id != request.user.pk:
        from django.http import Http404

        raise Http404("Not found.")
    return assignment


@login_required
@require_POST
def submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    assignment = _own_assignment(request, assignment_id)
    queue = assignment.item.queue
    p = request.POST
    edited = None
    if p.get("messages"):
        try:
            edited = json.loads(p["messages"])
        except json.JSONDecodeError:
            messages.error(request, "The edited messages were not valid; nothing was saved.")
            return _render_item(request, queue, assignment)
    ranking = [x for x in p.get("ranking", "").split(",") if x] or None
    try:
        services.submit_review(
            request.user,
            assignment,
            decision=p.get("decision", ""),
            rating=int(p["rating"]) if p.get("rating", "").isdigit() else None,
            comment=p.get("comment", "")[:5000],
            messages=edited,
            ranking=ranking,
            time_spent_ms=int(p["time_spent_ms"]) if p.get("time_spent_ms", "").isdigit() else 0,
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
    return _render_item(request, queue, services.claim_next(request.user, queue))


@login_required
@require_POST
def skip(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    assignment = _own_assignment(request, assignment_id)
    queue = assignment.item.queue
    if assignment.status == AssignmentStatus.OPEN:
        services.skip(request.user, assignment)
    return _render_item(request, queue, services.claim_next(request.user, queue))


@login_required
@require_POST
def undo(request: AuthedRequest, queue_id: int) -> HttpResponse:
    queue = object_for(
        request.user, ReviewQueue.objects.select_related("project"), queue_id, Role.ANNOTATOR
    )
    current = services.claim_next(request.user, queue)
    try:
        back = services.undo_last(request.user, queue)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return _render_item(request, queue, current)
    if current is not None and current.pk != back.pk:
        services.release(request.user, current)  # the unstarted item goes back to the queue
    messages.success(request, "Undone: the previous item is back.")
    return _render_item(request, queue, back)


@login_required
@require_POST
def adjudicate(request: AuthedRequest, item_id: int) -> HttpResponse:
    item = object_for(
        request.user,
        QueueItem.objects.select_related("queue"),
        item_id,
        Role.CURATOR,
        project_path="queue.project_id",
    )
    try:
        services.adjudicate(
            request.user, item, request.POST.get("decision", ""), request.POST.get("comment", "")
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Decision recorded.")
    return redirect("review:queue", item.queue_id)
