"""Claiming is race-free: 50 threads, one queue, overlap 2."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from curation.projects.models import Role
from curation.projects.services import issue_api_token
from curation.review import services
from curation.review.models import Assignment, AssignmentStatus, QueueItem, Review
from curation.samples.models import Sample
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory


def make_queue(n_items: int, n_annotators: int, overlap: int) -> tuple[Any, list[Any], Any]:
    project = ProjectFactory(name="Race")
    curator = UserFactory(username="race-curator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    annotators = []
    for i in range(n_annotators):
        user = UserFactory(username=f"racer{i}")
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
        annotators.append(user)
    for _ in range(n_items):
        SampleFactory(project=project)
    queue = services.create_queue(curator, project, name="q", overlap=overlap)
    return queue, annotators, curator


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_never_over_assign_never_repeat_and_lose_no_update() -> None:
    queue, annotators, _ = make_queue(n_items=40, n_annotators=50, overlap=2)
    errors: list[BaseException] = []
    start = threading.Barrier(len(annotators))

    def annotate(user: Any) -> None:
        try:
            start.wait()
            while True:
                assignment = services.claim_next(user, queue)
                if assignment is None:
                    return
                services.submit_review(user, assignment, decision="accept", time_spent_ms=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate, args=(u,)) for u in annotators]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]

    items = QueueItem.objects.filter(queue=queue)
    # Zero items over-assigned: every item has exactly its overlap, and no more.
    assert sorted(set(items.values_list("reviews_done", flat=True))) == [2]
    assert not items.filter(in_flight__gt=0).exists()
    # Zero annotators assigned twice to one item.
    twice = (
        Assignment.objects.filter(item__queue=queue)
        .values("item", "annotator")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not twice.exists()
    # Zero lost updates: the counters match the reviews actually stored.
    stored = Counter(Review.objects.filter(item__queue=queue).values_list("item_id", flat=True))
    assert {i.pk: i.reviews_done for i in items} == dict(stored)
    assert Review.objects.filter(item__queue=queue).count() == 80
    assert Sample.objects.filter(status="accepted").count() == 40


@pytest.mark.django_db
def test_an_expired_lease_returns_the_item_to_the_queue() -> None:
    queue, (ann1, ann2), _ = make_queue(n_items=1, n_annotators=2, overlap=1)
    first = services.claim_next(ann1, queue)
    assert first is not None
    assert services.claim_next(ann2, queue) is None  # the only slot is taken
    Assignment.objects.filter(pk=first.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    second = services.claim_next(ann2, queue)
    assert second is not None and second.item_id == first.item_id
    assert Assignment.objects.get(pk=first.pk).status == AssignmentStatus.EXPIRED
    with pytest.raises(services.ServiceError, match="expired"):
        services.submit_review(ann1, first, decision="accept")


@pytest.mark.django_db
def test_claiming_again_returns_the_open_assignment_instead_of_a_new_one() -> None:
    queue, (ann,), _ = make_queue(n_items=3, n_annotators=1, overlap=1)
    a = services.claim_next(ann, queue)
    assert services.claim_next(ann, queue).pk == a.pk
    assert Assignment.objects.filter(annotator=ann).count() == 1


@pytest.mark.django_db
def test_the_api_claims_and_submits_and_says_204_when_nothing_is_left() -> None:
    queue, (ann,), _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    _, token = issue_api_token(ann, "t")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    claimed = client.post(f"/api/v1/queues/{queue.pk}/claim")
    assert claimed.status_code == 200
    body = claimed.json()
    assert body["sample"]["messages"][0]["role"] == "user"
    edited = [dict(m) for m in body["sample"]["messages"]]
    edited[-1]["content"] = "A better answer."
    done = client.post(
        f"/api/v1/assignments/{body['id']}/submit",
        {"decision": "accept", "rating": 4, "messages": edited, "time_spent_ms": 1200},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["edited"] is True
    sample = Sample.objects.get(pk=body["sample"]["id"])
    assert sample.messages[-1]["content"] == "A better answer."
    assert sample.revisions.get().messages_before[-1]["content"] != "A better answer."
    assert client.post(f"/api/v1/queues/{queue.pk}/claim").status_code == 204
    again = client.post(
        f"/api/v1/assignments/{body['id']}/submit",
        {"decision": "reject"},
        content_type="application/json",
    )
    assert again.status_code == 409
    progress = client.get(f"/api/v1/queues/{queue.pk}").json()
    assert progress["reviews_done"] == 1 and progress["progress"] == 1.0


@pytest.mark.django_db
def test_nobody_submits_anothers_assignment() -> None:
    queue, (ann1, ann2), _ = make_queue(n_items=1, n_annotators=2, overlap=2)
    a = services.claim_next(ann1, queue)
    _, token = issue_api_token(ann2, "t")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(
        f"/api/v1/assignments/{a.pk}/submit",
        {"decision": "accept"},
        content_type="application/json",
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_an_item_is_settled_once_it_has_all_its_reviews_and_undo_unsettles_it() -> None:
    queue, (ann1, ann2), _ = make_queue(n_items=1, n_annotators=2, overlap=2)
    item = QueueItem.objects.get(queue=queue)
    services.submit_review(ann1, services.claim_next(ann1, queue), decision="accept")
    item.refresh_from_db()
    assert not item.settled
    services.submit_review(ann2, services.claim_next(ann2, queue), decision="reject")
    item.refresh_from_db()
    assert item.settled
    services.undo_last(ann2, queue)
    item.refresh_from_db()
    assert not item.settled


@pytest.mark.django_db
def test_an_adjudicated_item_is_settled_and_never_claimed_again() -> None:
    queue, (ann1, _), curator = make_queue(n_items=1, n_annotators=2, overlap=2)
    item = QueueItem.objects.get(queue=queue)
    services.adjudicate(curator, item, "reject")
    item.refresh_from_db()
    assert item.settled
    assert services.claim_next(ann1, queue) is None


@pytest.mark.django_db
def test_claiming_skips_samples_a_curator_rejected_as_duplicates() -> None:
    queue, (ann1,), _ = make_queue(n_items=2, n_annotators=1, overlap=1)
    canonical, copy = Sample.objects.filter(project=queue.project).order_by("id")
    Sample.objects.filter(pk=copy.pk).update(
        status="rejected", dup_status="near_duplicate", duplicate_of=canonical
    )
    first = services.claim_next(ann1, queue)
    assert first is not None and first.item.sample_id == canonical.pk
    services.submit_review(ann1, first, decision="accept")
    assert services.claim_next(ann1, queue) is None


@pytest.mark.django_db
def test_the_periodic_sweep_gives_expired_leases_back_while_other_items_are_free() -> None:
    from curation.review.tasks import release_expired_leases

    queue, (ann1, _), _ = make_queue(n_items=3, n_annotators=2, overlap=1)
    stale = services.claim_next(ann1, queue)
    Assignment.objects.filter(pk=stale.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert release_expired_leases() == 1
    stale.refresh_from_db()
    assert stale.status == AssignmentStatus.EXPIRED
    assert QueueItem.objects.get(pk=stale.item_id).in_flight == 0
    assert release_expired_leases() == 0
