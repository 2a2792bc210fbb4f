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
from curation.review import services, steps, tool_calls, turns
from curation.review.access import own_assignment
from curation.review.calibration import judge_vs_human
from curation.review.forms import BulkForm, QuestionForm, QueueForm
from curation.review.labels import label_space
from curation.review.models import Assignment, AssignmentStatus, QueueItem, Review, ReviewQueue
from curation.review.presenters import queue_summary
from curation.review.steps import InvalidStep
from curation.review.tool_calls import InvalidToolCall
from curation.samples.lineage import lineage_extra


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
        "question_form": QuestionForm(),
        "calibration": judge_vs_human(queue),
    }
    return render(request, "review/queue_detail.html", ctx)


@login_required
@require_POST
def add_question(request: AuthedRequest, queue_id: int) -> HttpResponse:
    queue = object_for(
        request.user, ReviewQueue.objects.select_related("project"), queue_id, Role.CURATOR
    )
    form = QuestionForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        messages.error(request, f"The question was not added ({errors}).")
    else:
        try:
            q = services.add_question(request.user, queue, form.question())
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Added the question {q['title']!r}; it shows from now on.")
    return redirect("review:queue", queue.pk)


def _item_context(
    request: AuthedRequest, queue: ReviewQueue, assignment: Assignment | None
) -> dict[str, Any]:
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
        "fields": _question_fields(queue),
        "s": queue_summary(queue),
        "mine": Review.objects.filter(item__queue=queue, annotator=request.user).count(),
        "messages_json": json.dumps(sample.messages) if sample else "[]",
        "x": lineage_extra(sample.extra, sample.tags) if sample else None,
        "label_space": label_space(sample) if sample else [],
        "transcript": _with_calls(sample) if sample else [],
        "personas": turns.personas(sample) if sample else [],
        "conversation": sample is not None and sample.kind == "conversation",
        **_trajectory(sample),
    }


def _trajectory(sample: Any) -> dict[str, Any]:
    """An agent trajectory's steps and its env checker's verdict (curation/review/steps.py)."""
    if sample is None or not steps.is_trajectory(sample.kind, sample.extra):
        return {"steps": [], "verdict": None}
    return {
        "steps": steps.page_steps(sample.messages, sample.extra),
        "verdict": steps.verdict_of(sample.extra),
    }


def _with_calls(sample: Any) -> list[dict[str, Any]]:
    """The transcript, each assistant row with its call blocks; a tool result shown inside
    its call's block is marked `paired` so the page does not show it twice."""
    rows = turns.transcript(sample)
    calls = tool_calls.blocks(sample)
    paired = {b["result_index"] for bs in calls.values() for b in bs}
    step_of = (
        steps.message_steps(sample.messages, sample.extra)
        if steps.is_trajectory(sample.kind, sample.extra)
        else [None] * len(rows)
    )
    for row in rows:
        row["calls"] = calls.get(row["index"], [])
        row["paired"] = row["index"] in paired
        row["step"] = step_of[row["index"]]
    return rows


def _question_fields(queue: ReviewQueue) -> list[dict[str, Any]]:
    """How each of the queue's questions shows on the review page, and its form field name."""
    fields = []
    seen: set[str] = set()
    for q in queue.questions:
        qtype = q["type"]
        primary = qtype not in seen
        seen.add(qtype)
        if qtype in {"decision", "ranking"}:
            continue  # the accept/reject buttons and the ranking list are drawn on their own
        if qtype == "text" and q["id"] == "comment":
            name = "comment"
        elif primary and qtype in {"rating", "labels"}:
            name = qtype
        else:
            name = f"answer:{q['id']}"
        fields.append(
            {
                "q": q,
                "name": name,
                "keys": qtype == "rating" and primary,
                "points": list(range(1, q.get("scale", 5) + 1)) if qtype == "rating" else [],
            }
        )
    return fields


def _answers(queue: ReviewQueue, post: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in queue.questions:
        key = f"answer:{q['id']}"
        if q["type"] == "labels" and post.getlist(key):
            answers[q["id"]] = post.getlist(key)
        elif q["type"] == "rating" and post.get(key, "").isdigit():
            answers[q["id"]] = int(post[key])
        elif q["type"] == "text" and post.get(key):
            answers[q["id"]] = post[key]
    return answers


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


@login_required
@require_POST
def submit(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    assignment = own_assignment(request.user, assignment_id)
    queue = assignment.item.queue
    p = request.POST
    try:
        edited = json.loads(p["messages"]) if p.get("messages") else None
        marks = json.loads(p["turns"]) if p.get("turns") else None
        call_edits = json.loads(p["tool_calls"]) if p.get("tool_calls") else None
    except json.JSONDecodeError:
        messages.error(request, "The edited messages were not valid; nothing was saved.")
        return _render_item(request, queue, assignment)
    cut = p.get("truncate_after", "")
    wrong = p.get("first_wrong_step", "")
    ranking = [x for x in p.get("ranking", "").split(",") if x] or None
    try:
        services.submit_review(
            request.user,
            assignment,
            decision=p.get("decision", ""),
            rating=int(p["rating"]) if p.get("rating", "").isdigit() else None,
            comment=p.get("comment", "")[:5000],
            labels=p.getlist("labels"),
            answers=_answers(queue, p),
            messages=edited,
            label=p.get("label"),
            ranking=ranking,
            time_spent_ms=int(p["time_spent_ms"]) if p.get("time_spent_ms", "").isdigit() else 0,
            turns=marks,
            truncate_after=int(cut) if cut.isdigit() else None,
            tool_calls=call_edits if isinstance(call_edits, dict) else None,
            first_wrong_step=int(wrong) if wrong.isdigit() else None,
        )
    except (InvalidToolCall, InvalidStep) as exc:  # keep the item open to fix it
        messages.error(request, f"{exc} Nothing was saved.")
        return _render_item(request, queue, assignment)
    except ServiceError as exc:
        messages.error(request, str(exc))
    return _render_item(request, queue, services.claim_next(request.user, queue))


@login_required
@require_POST
def skip(request: AuthedRequest, assignment_id: int) -> HttpResponse:
    assignment = own_assignment(request.user, assignment_id)
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


@login_required
def sample_history(request: AuthedRequest, sample_id: int) -> HttpResponse:
    from curation.review.history import sample_history as history
    from curation.samples.models import Sample

    sample = object_for(request.user, Sample.objects.select_related("project"), sample_id)
    curator = membership_for(request.user, sample.project_id).has_role(Role.CURATOR)
    h = history(sample, only_actor=None if curator else request.user)
    ctx = {"project": sample.project, "sample": sample, "h": h, "everyone": curator}
    return render(request, "review/history.html", ctx)


@login_required
def bulk(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Accept or reject by filter: preview the count, then apply with that count confirmed."""
    project = project_for(request.user, project_id, Role.CURATOR)
    form = BulkForm(request.POST or None)
    ctx: dict[str, Any] = {"project": project, "form": form}
    if request.method == "POST" and form.is_valid():
        filters = form.filters()
        if request.POST.get("action") == "apply":
            try:
                n = services.bulk_decide(
                    request.user,
                    project,
                    filters,
                    form.cleaned_data["decision"],
                    form.cleaned_data["expected_count"] or 0,
                )
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                verb = "Accepted" if form.cleaned_data["decision"] == "accept" else "Rejected"
                messages.success(request, f"{verb} {n} samples. The audit log has the list.")
                return redirect("review:bulk", project.pk)
        samples = services.filtered_samples(project, filters)
        ctx["count"] = samples.count()
        ctx["examples"] = samples.order_by("id")[:5]
        ctx["carry"] = [
            (k, v)
            for k in request.POST
            if k not in {"csrfmiddlewaretoken", "action", "expected_count"}
            for v in request.POST.getlist(k)
        ]
    template = "review/bulk.html"
    if request.htmx:
        template += "#preview"
    return render(request, template, ctx)
