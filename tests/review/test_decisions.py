"""Undo, skip, adjudication and bulk decisions: each audited, each reversible or confirmed."""

from __future__ import annotations

from typing import Any

import pytest

from curation.projects.models import AuditEvent
from curation.review import services
from curation.review.models import AssignmentStatus, QueueItem
from curation.samples.models import Sample
from tests.review.test_claiming import make_queue

pytestmark = pytest.mark.django_db


def test_an_annotator_can_undo_their_last_decision_and_redo_it() -> None:
    queue, (ann,), _ = make_queue(n_items=2, n_annotators=1, overlap=1)
    a = services.claim_next(ann, queue)
    original = list(a.item.sample.messages)
    edited = [dict(m) for m in original]
    edited[-1]["content"] = "Edited."
    services.submit_review(ann, a, decision="reject", messages=edited)
    sample = Sample.objects.get(pk=a.item.sample_id)
    assert sample.status == "rejected" and sample.messages[-1]["content"] == "Edited."
    back = services.undo_last(ann, queue)
    assert back.pk == a.pk and back.status == AssignmentStatus.OPEN
    sample.refresh_from_db()
    assert sample.status == "pending" and sample.messages == original
    item = QueueItem.objects.get(pk=a.item_id)
    assert (item.reviews_done, item.in_flight) == (0, 1)
    # The undone item is the annotator's again, before any new one.
    assert services.claim_next(ann, queue).pk == a.pk
    services.submit_review(ann, back, decision="accept")
    assert Sample.objects.get(pk=a.item.sample_id).status == "accepted"
    verbs = list(
        AuditEvent.objects.filter(verb__startswith="review.").values_list("verb", flat=True)
    )
    assert sorted(verbs) == ["review.submit", "review.submit", "review.undo"]


def test_nothing_to_undo_is_a_clear_error() -> None:
    queue, (ann,), _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    with pytest.raises(services.ServiceError, match="nothing of yours to undo"):
        services.undo_last(ann, queue)


def test_a_skipped_item_goes_back_but_not_to_the_same_annotator() -> None:
    queue, (ann1, ann2), _ = make_queue(n_items=1, n_annotators=2, overlap=1)
    a = services.claim_next(ann1, queue)
    services.skip(ann1, a)
    assert services.claim_next(ann1, queue) is None
    assert services.claim_next(ann2, queue).item_id == a.item_id


def test_a_disagreement_needs_review_and_a_curator_adjudicates_it() -> None:
    queue, (ann1, ann2), curator = make_queue(n_items=1, n_annotators=2, overlap=2)
    services.submit_review(ann1, services.claim_next(ann1, queue), decision="accept")
    services.submit_review(ann2, services.claim_next(ann2, queue), decision="reject")
    item = QueueItem.objects.get(queue=queue)
    assert item.disagreement == 0.5
    assert Sample.objects.get(pk=item.sample_id).status == "needs_review"
    services.adjudicate(curator, item, "reject", comment="Off topic.")
    assert Sample.objects.get(pk=item.sample_id).status == "rejected"
    event = AuditEvent.objects.get(verb="review.adjudicate")
    assert event.before["sample_status"] == "needs_review"
    assert event.after == {
        "sample": item.sample_id,
        "final_decision": "reject",
        "comment": "Off topic.",
    }


def test_bulk_decisions_need_the_confirmed_count_and_are_audited() -> None:
    queue, _, curator = make_queue(n_items=5, n_annotators=1, overlap=1)
    project = queue.project
    with pytest.raises(services.ServiceError, match="5 samples match now, not the 4"):
        services.bulk_decide(curator, project, {"statuses": ["pending"]}, "reject", 4)
    assert services.bulk_decide(curator, project, {"statuses": ["pending"]}, "reject", 5) == 5
    assert set(Sample.objects.values_list("status", flat=True)) == {"rejected"}
    event: Any = AuditEvent.objects.get(verb="samples.bulk_decide")
    assert event.before == {"statuses": {"pending": 5}} and event.after["count"] == 5


def test_the_queue_reports_agreement_once_two_annotators_overlap(api_client_for: Any) -> None:
    queue, (ann1, ann2), curator = make_queue(n_items=4, n_annotators=2, overlap=2)
    plan = {
        ann1: ["accept", "accept", "reject", "accept"],
        ann2: ["accept", "reject", "reject", "accept"],
    }
    for user, decisions in plan.items():
        for decision in decisions:
            services.submit_review(user, services.claim_next(user, queue), decision=decision)
    body = api_client_for(curator).get(f"/api/v1/queues/{queue.pk}").json()
    agreement = body["agreement"]
    assert agreement["items_with_two_or_more"] == 4 and agreement["annotators"] == 2
    assert agreement["percent_agreement"] == 0.75
    assert agreement["cohens_kappa"] == pytest.approx(0.5)
    assert agreement["krippendorff_alpha"] is not None


def test_annotator_stats_compare_each_annotator_with_the_others_and_the_judge(
    api_client_for: Any,
) -> None:
    queue, (a1, a2, a3), curator = make_queue(n_items=2, n_annotators=3, overlap=3)
    Sample.objects.filter(project=queue.project).update(judge_score=4.0)  # the judge accepts
    votes = {a1: ["accept", "accept"], a2: ["accept", "reject"], a3: ["reject", "reject"]}
    for user, decisions in votes.items():
        for decision in decisions:
            services.submit_review(
                user, services.claim_next(user, queue), decision=decision, time_spent_ms=1000
            )
    stats = {
        s["annotator"]: s
        for s in api_client_for(curator).get(f"/api/v1/queues/{queue.pk}").json()["annotators"]
    }
    assert stats[a1.username]["items"] == 2
    assert stats[a1.username]["median_time_ms"] == 1000
    assert stats[a1.username]["agreement_with_judge"] == 1.0
    assert stats[a3.username]["agreement_with_judge"] == 0.0
    # a1 against a2+a3: item one majority of (accept, reject) is a tie, so only item two
    # counts (reject vs a1's accept) → 0.0. a2 against a1+a3: a tie on item one, and on
    # item two the others split → no clear majority anywhere → None.
    assert stats[a1.username]["agreement_with_majority"] == 0.0


def test_the_bulk_api_reports_the_count_then_applies_it_once_confirmed(api_client_for: Any) -> None:
    queue, (ann,), curator = make_queue(n_items=3, n_annotators=1, overlap=1)
    url = f"/api/v1/projects/{queue.project_id}/samples/bulk"
    client = api_client_for(curator)
    body = {"filters": {"statuses": ["pending"]}, "decision": "accept"}
    preview = client.post(url, body, content_type="application/json").json()
    assert preview == {"matching": 3, "applied": False}
    assert set(Sample.objects.values_list("status", flat=True)) == {"pending"}
    done = client.post(url, {**body, "confirm_count": 3}, content_type="application/json")
    assert done.json() == {"matching": 3, "applied": True}
    assert set(Sample.objects.values_list("status", flat=True)) == {"accepted"}
    refused = api_client_for(ann).post(url, body, content_type="application/json")
    assert refused.status_code == 403


def test_an_edit_and_its_undo_each_send_the_sample_back_for_embedding() -> None:
    queue, (ann,), _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    a = services.claim_next(ann, queue)
    Sample.objects.filter(pk=a.item.sample_id).update(embedded_hash="abc")
    edited = [dict(m) for m in a.item.sample.messages]
    edited[-1]["content"] = "Edited."
    services.submit_review(ann, a, decision="accept", messages=edited)
    assert Sample.objects.get(pk=a.item.sample_id).embedded_hash == ""
    Sample.objects.filter(pk=a.item.sample_id).update(embedded_hash="def")
    services.undo_last(ann, queue)
    assert Sample.objects.get(pk=a.item.sample_id).embedded_hash == ""
