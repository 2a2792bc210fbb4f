"""A sample's history: every audited change to it, oldest first, with edits as diffs.

Events that concern a sample name it in `after.sample` (reviews, undo, adjudication) or are
recorded against the sample itself (dedup, edits elsewhere); bulk decisions list their
sample ids. An expression index on `after->>'sample'` (review migration 0003) keeps the
lookup fast on a large audit log.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.db.models import Q

from curation.projects.models import AuditEvent
from curation.review.models import Review, SampleRevision
from curation.samples.models import Sample

LIMIT = 500


def sample_history(sample: Sample, only_actor: Any = None) -> dict[str, Any]:
    """`only_actor`: for annotators and viewers, who see only their own reviews (others'
    decisions would bias them); curators and owners see everyone's."""
    sid = str(sample.pk)
    events = (
        AuditEvent.objects.filter(project_id=sample.project_id)
        .filter(
            Q(object_type=Sample._meta.label_lower, object_id=sid)
            | Q(after__sample=sample.pk)
            | Q(verb="samples.bulk_decide", after__sample_ids__contains=[sample.pk])
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    reviews = Review.objects.filter(item__sample=sample).select_related("annotator", "item__queue")
    revisions = SampleRevision.objects.filter(sample=sample).select_related("author")
    if only_actor is not None:
        events = events.filter(actor=only_actor)
        reviews = reviews.filter(annotator=only_actor)
        revisions = revisions.filter(author=only_actor)
    return {
        "sample": sample.pk,
        "events": [
            {
                "at": e.created_at,
                "actor": e.actor.username if e.actor else None,
                "verb": e.verb,
                "object": f"{e.object_type}:{e.object_id}",
                "before": _trim(e.before),
                "after": _trim(e.after),
            }
            for e in events[:LIMIT]
        ],
        "reviews": [
            {
                "queue": r.item.queue.name,
                "annotator": r.annotator.username,
                "decision": r.decision,
                "rating": r.rating,
                "labels": r.labels,
                "answers": r.answers,
                "turns": r.turns,  # marks on single turns: {"3": {"flag": true, ...}}
                "first_wrong_step": r.first_wrong_step,  # agent trajectories (steps.py)
                "comment": r.comment,
                "edited": r.edited,
                "time_spent_ms": r.time_spent_ms,
                "at": r.created_at,
            }
            for r in reviews.order_by("created_at", "id")
        ],
        "revisions": [
            {
                "number": r.number,
                "at": r.created_at,
                "author": r.author.username if r.author else None,
                "truncated_after": r.truncated_after,
                "diff": truncation_note(r.truncated_after, r.messages_before, r.messages_after)
                + revision_diff(r.messages_before, r.messages_after)
                + label_diff(r.label_before, r.label_after),
            }
            for r in revisions
        ],
    }


def _trim(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if not data or "sample_ids" not in data:
        return data
    return {**data, "sample_ids": f"{len(data['sample_ids'])} samples"}


def revision_diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """A unified diff of the messages, one line per role-tagged line of content."""

    def lines(messages: list[dict[str, Any]]) -> list[str]:
        out = []
        for m in messages:
            for line in str(m.get("content") or "").splitlines() or [""]:
                out.append(f"{m.get('role', '?')}: {line}")
        return out

    return list(difflib.unified_diff(lines(before), lines(after), "before", "after", lineterm=""))


def label_diff(before: str | None, after: str | None) -> list[str]:
    """The label change of a revision, in the diff's own notation; [] when it kept the label."""
    if before is None or after is None or before == after:
        return []
    return ["@@ label @@", f"-label: {before}", f"+label: {after}"]


def truncation_note(
    after: int | None, before: list[dict[str, Any]], kept: list[dict[str, Any]]
) -> list[str]:
    """A truncation's headline, in the diff's own notation; [] when the revision cut nothing."""
    cut = len(before) - len(kept)
    if after is None or cut <= 0:
        return []
    return [f"@@ truncated after turn {after}: {cut} message{'s' if cut > 1 else ''} cut @@"]
