"""Curators accept or reject by filter in the browser, after seeing the count."""

from __future__ import annotations

import pytest
from django.test import Client

from curation.projects.models import AuditEvent
from curation.samples.models import Sample
from tests.factories import SampleFactory
from tests.review.test_claiming import make_queue

pytestmark = pytest.mark.django_db


def test_a_curator_previews_the_count_then_confirms_it_and_only_those_change() -> None:
    queue, _, curator = make_queue(n_items=3, n_annotators=1, overlap=1)
    project = queue.project
    low = [SampleFactory(project=project, judge_score=1.0) for _ in range(2)]
    client = Client()
    client.force_login(curator)
    url = f"/projects/{project.pk}/samples/bulk/"
    form = {"score_max": "2", "statuses": ["pending"], "decision": "reject"}
    preview = client.post(url, {**form, "action": "preview"}).content.decode()
    assert '<span id="bulk-count">2</span>' in preview
    assert Sample.objects.filter(status="rejected").count() == 0  # nothing yet
    assert 'name="expected_count" value="2"' in preview
    response = client.post(url, {**form, "action": "apply", "expected_count": "2"}, follow=True)
    assert "Rejected 2 samples" in response.content.decode()
    assert set(Sample.objects.filter(status="rejected").values_list("pk", flat=True)) == {
        s.pk for s in low
    }
    event = AuditEvent.objects.get(verb="samples.bulk_decide")
    assert event.after["count"] == 2


def test_a_stale_count_is_refused_and_nothing_changes() -> None:
    queue, _, curator = make_queue(n_items=3, n_annotators=1, overlap=1)
    client = Client()
    client.force_login(curator)
    url = f"/projects/{queue.project.pk}/samples/bulk/"
    response = client.post(
        url, {"decision": "accept", "action": "apply", "expected_count": "2"}, follow=True
    )
    assert "3 samples match now, not the 2 you confirmed" in response.content.decode()
    assert not Sample.objects.filter(status="accepted").exists()


def test_annotators_cannot_open_bulk_decisions() -> None:
    queue, (ann,), _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    client = Client()
    client.force_login(ann)
    assert client.get(f"/projects/{queue.project.pk}/samples/bulk/").status_code == 403
