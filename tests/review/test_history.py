"""Every sample has a history: reviews, edits, undo, adjudication and bulk decisions."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.review import services
from curation.samples.models import Sample
from tests.review.test_claiming import make_queue

pytestmark = pytest.mark.django_db


def test_a_samples_history_shows_each_decision_edit_undo_and_adjudication_in_order(
    api_client_for: Any,
) -> None:
    queue, (ann1, ann2), curator = make_queue(n_items=1, n_annotators=2, overlap=2)
    a = services.claim_next(ann1, queue)
    sample = a.item.sample
    edited = [dict(m) for m in sample.messages]
    edited[-1]["content"] = "A better answer."
    services.submit_review(ann1, a, decision="accept", messages=edited)
    services.undo_last(ann1, queue)
    services.submit_review(ann1, services.claim_next(ann1, queue), decision="accept")
    services.submit_review(ann2, services.claim_next(ann2, queue), decision="reject")
    services.adjudicate(curator, a.item, "accept", "The edit fixed it.")
    services.bulk_decide(
        curator, queue.project, {"statuses": ["accepted"]}, "reject", expected_count=1
    )
    body = api_client_for(curator).get(f"/api/v1/samples/{sample.pk}/history").json()
    verbs = [e["verb"] for e in body["events"]]
    assert verbs == [
        "review.submit",
        "review.undo",
        "review.submit",
        "review.submit",
        "review.adjudicate",
        "samples.bulk_decide",
    ]
    assert body["events"][4]["before"]["sample_status"] == "needs_review"
    assert body["events"][5]["after"]["sample_ids"] == "1 samples"
    assert body["revisions"] == []  # the undo took the edit back


def test_the_history_page_shows_the_diff_of_an_edit_and_escapes_it() -> None:
    queue, (ann,), _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    a = services.claim_next(ann, queue)
    edited = [dict(m) for m in a.item.sample.messages]
    edited[-1]["content"] = "<script>alert(1)</script> fixed"
    services.submit_review(ann, a, decision="accept", messages=edited)
    client = Client()
    client.force_login(ann)
    page = client.get(f"/samples/{a.item.sample_id}/history/").content.decode()
    assert "Revision 1" in page
    assert "+assistant: &lt;script&gt;alert(1)&lt;/script&gt; fixed" in page
    assert "<script>alert(1)" not in page
    assert 'data-verb="review.submit"' in page


def test_another_projects_sample_history_is_not_found(api_client_for: Any) -> None:
    queue, _, _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    sample = Sample.objects.get(project=queue.project)
    from tests.factories import UserFactory

    outsider = UserFactory(username="nosy")
    assert api_client_for(outsider).get(f"/api/v1/samples/{sample.pk}/history").status_code == 404


def test_curators_see_every_review_of_a_sample_and_annotators_only_their_own(
    api_client_for: Any,
) -> None:
    queue, (ann1, ann2), curator = make_queue(n_items=1, n_annotators=2, overlap=2)
    a = services.claim_next(ann1, queue)
    services.submit_review(ann1, a, decision="accept", rating=5, comment="Good <b>one</b>")
    services.submit_review(ann2, services.claim_next(ann2, queue), decision="reject")
    url = f"/api/v1/samples/{a.item.sample_id}/history"
    everyone = api_client_for(curator).get(url).json()
    assert [(r["annotator"], r["decision"]) for r in everyone["reviews"]] == [
        ("racer0", "accept"),
        ("racer1", "reject"),
    ]
    mine = api_client_for(ann2).get(url).json()
    assert [r["annotator"] for r in mine["reviews"]] == ["racer1"]
    assert {e["actor"] for e in mine["events"]} == {"racer1"}
    client = Client()
    client.force_login(curator)
    page = client.get(f"/samples/{a.item.sample_id}/history/").content.decode()
    assert "Good &lt;b&gt;one&lt;/b&gt;" in page and 'id="history-reviews"' in page
