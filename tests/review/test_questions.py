"""Queues ask configurable questions, and more can be added after annotation has started."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.projects.models import AuditEvent
from curation.review import services
from curation.review.models import Review
from tests.review.test_claiming import make_queue

pytestmark = pytest.mark.django_db


def test_a_new_queue_asks_decision_quality_comment_and_ranking_by_default() -> None:
    queue, _, _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    assert [q["type"] for q in queue.questions] == ["decision", "rating", "text", "ranking"]


def test_a_bad_question_is_refused_before_the_queue_is_made() -> None:
    queue, _, curator = make_queue(n_items=1, n_annotators=1, overlap=1)
    with pytest.raises(services.ServiceError, match="1 to 50 distinct options"):
        services.create_queue(
            curator,
            queue.project,
            name="labels",
            questions=[{"id": "topic", "type": "labels", "options": []}],
        )
    assert not queue.project.queues.filter(name="labels").exists()


def test_a_question_added_after_start_is_answered_from_then_on() -> None:
    queue, (ann,), curator = make_queue(n_items=2, n_annotators=1, overlap=1)
    first = services.claim_next(ann, queue)
    services.submit_review(ann, first, decision="accept", rating=4)
    services.add_question(
        curator, queue, {"id": "topic", "type": "labels", "options": "code, math, prose"}
    )
    services.add_question(curator, queue, {"id": "harm", "type": "rating", "scale": 3})
    second = services.claim_next(ann, queue)
    services.submit_review(
        ann,
        second,
        decision="reject",
        rating=2,
        answers={"topic": ["math", "code"], "harm": 3},
    )
    old, new = Review.objects.order_by("id")
    assert old.answers == {}
    assert new.answers == {"topic": ["math", "code"], "harm": 3}
    assert AuditEvent.objects.filter(verb="queue.add_question").count() == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rating": 6}, "between 1 and 5"),
        ({"answers": {"nope": 1}}, "asks no question 'nope'"),
        ({"answers": {"topic": ["poetry"]}}, "unknown label 'poetry'"),
        ({"labels": ["code"]}, "unknown label|asks no labels"),
    ],
)
def test_answers_that_do_not_fit_the_questions_are_refused_and_nothing_is_saved(
    kwargs: dict[str, Any], error: str
) -> None:
    queue, (ann,), curator = make_queue(n_items=1, n_annotators=1, overlap=1)
    if "labels" not in kwargs:
        services.add_question(curator, queue, {"id": "topic", "type": "labels", "options": ["x"]})
    a = services.claim_next(ann, queue)
    with pytest.raises(services.ServiceError, match=error):
        services.submit_review(ann, a, decision="accept", **kwargs)
    assert not Review.objects.exists()
    assert services.claim_next(ann, queue).pk == a.pk  # still theirs to answer


def test_a_duplicate_question_id_is_refused() -> None:
    queue, _, curator = make_queue(n_items=1, n_annotators=1, overlap=1)
    with pytest.raises(services.ServiceError, match="already asks"):
        services.add_question(curator, queue, {"id": "quality", "type": "rating"})


def test_curators_add_questions_through_the_api_and_annotators_cannot(
    api_client_for: Any,
) -> None:
    queue, (ann,), curator = make_queue(n_items=1, n_annotators=1, overlap=1)
    url = f"/api/v1/queues/{queue.pk}/questions"
    body = {"id": "tone", "type": "labels", "options": ["formal", "casual"], "multiple": False}
    assert api_client_for(ann).post(url, body, content_type="application/json").status_code == 403
    response = api_client_for(curator).post(url, body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["options"] == ["formal", "casual"]
    got = api_client_for(ann).get(f"/api/v1/queues/{queue.pk}").json()
    assert got["questions"][-1]["id"] == "tone"
    bad = api_client_for(curator).post(
        url, {"id": "x", "type": "colour"}, content_type="application/json"
    )
    # The types are an enum of the schema: an unknown one is invalid input.
    assert bad.status_code == 422
    assert [e["loc"][-1] for e in bad.json()["detail"]] == ["type"]


def test_the_review_page_shows_added_questions_and_saves_their_answers() -> None:
    queue, (ann,), curator = make_queue(n_items=1, n_annotators=1, overlap=1)
    queue.guidelines = "Reject anything with **made-up facts**."
    queue.save()
    services.add_question(
        curator, queue, {"id": "topic", "type": "labels", "options": ["code", "math"]}
    )
    client = Client()
    client.force_login(ann)
    page = client.get(f"/queues/{queue.pk}/review/").content.decode()
    assert "<strong>made-up facts</strong>" in page
    assert 'name="labels" value="math"' in page
    assignment = services.claim_next(ann, queue)
    client.post(
        f"/assignments/{assignment.pk}/submit/",
        {"decision": "accept", "rating": "5", "labels": ["math"], "comment": "fine"},
    )
    review = Review.objects.get()
    assert (review.decision, review.rating, review.labels, review.comment) == (
        "accept",
        5,
        ["math"],
        "fine",
    )


def test_a_curator_adds_a_question_from_the_queue_page() -> None:
    queue, (ann,), curator = make_queue(n_items=1, n_annotators=1, overlap=1)
    client = Client()
    client.force_login(curator)
    client.post(
        f"/queues/{queue.pk}/questions/",
        {"type": "rating", "id": "helpfulness", "title": "Helpful?", "scale": "7"},
    )
    queue.refresh_from_db()
    assert queue.questions[-1] == {
        "id": "helpfulness",
        "type": "rating",
        "title": "Helpful?",
        "scale": 7,
    }
    client.force_login(ann)
    page = client.get(f"/queues/{queue.pk}/review/").content.decode()
    assert 'name="answer:helpfulness"' in page
