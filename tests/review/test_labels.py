"""Classification rows in review: the label is shown, changed from its label space (by page,
key or API), recorded as a revision with an audit record, and undone like an edit."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import Client

from curation.projects.models import AuditEvent, Role
from curation.review import services
from curation.review.labels import InvalidLabel, label_space
from curation.review.models import Assignment, AssignmentStatus, SampleRevision
from curation.samples.models import Sample
from curation.seeds.models import SeedKind
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    RunFactory,
    SampleFactory,
    SeedFactory,
    SeedSetFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SPACE = ["positive", "negative", "neutral"]


TEXTS = itertools.count(1)


def classification(project: Any, label: str = "positive", **fields: Any) -> Sample:
    fields.setdefault("extra", {"labels": SPACE})
    text = f"The battery died after {next(TEXTS)} hours."
    return SampleFactory(
        project=project,
        kind="classification",
        label=label,
        messages=[{"role": "user", "content": text}],
        **fields,
    )


def queue_of(*samples_of: Any) -> tuple[Any, Any, Any]:
    """A project whose queue holds the samples `samples_of(project)` makes; its annotator."""
    project = ProjectFactory()
    curator = UserFactory(username="label-curator")
    annotator = UserFactory(username="label-annotator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    for make in samples_of:
        make(project)
    queue = services.create_queue(curator, project, name="labels")
    return queue, annotator, curator


def test_a_reviewer_changes_the_label_and_undo_puts_it_back() -> None:
    queue, ann, _ = queue_of(classification)
    a = services.claim_next(ann, queue)
    review = services.submit_review(ann, a, decision="accept", label="negative")
    sample = Sample.objects.get(pk=a.item.sample_id)
    assert sample.label == "negative" and sample.status == "accepted" and review.edited
    revision = SampleRevision.objects.get(sample=sample)
    assert (revision.label_before, revision.label_after) == ("positive", "negative")
    assert revision.messages_after == revision.messages_before == sample.messages
    event = AuditEvent.objects.get(verb="review.submit")
    assert event.after["label_before"] == "positive" and event.after["label"] == "negative"
    services.undo_last(ann, queue)
    sample.refresh_from_db()
    assert sample.label == "positive" and sample.status == "pending"
    assert not SampleRevision.objects.filter(sample=sample).exists()


def test_sending_the_current_label_changes_nothing() -> None:
    queue, ann, _ = queue_of(classification)
    a = services.claim_next(ann, queue)
    review = services.submit_review(ann, a, decision="accept", label=" positive ")
    assert not review.edited and not SampleRevision.objects.exists()
    assert "label" not in AuditEvent.objects.get(verb="review.submit").after


def test_a_label_outside_the_label_space_is_refused_and_nothing_is_saved() -> None:
    queue, ann, _ = queue_of(classification)
    a = services.claim_next(ann, queue)
    with pytest.raises(InvalidLabel, match="'angry' is not in this sample's label space"):
        services.submit_review(ann, a, decision="accept", label="angry")
    sample = Sample.objects.get(pk=a.item.sample_id)
    assert sample.label == "positive" and sample.status == "pending"
    assert Assignment.objects.get(pk=a.pk).status == AssignmentStatus.OPEN
    assert not AuditEvent.objects.filter(verb="review.submit").exists()


def test_only_classification_samples_take_a_label() -> None:
    queue, ann, _ = queue_of(lambda p: SampleFactory(project=p))
    a = services.claim_next(ann, queue)
    with pytest.raises(InvalidLabel, match="Only classification samples"):
        services.submit_review(ann, a, decision="accept", label="positive")


def test_the_label_space_falls_back_to_the_labelled_seeds_of_the_runs_seed_set() -> None:
    project = ProjectFactory()
    seeds = SeedSetFactory(project=project)
    for label in ("sports", "politics", "sports", "tech"):
        SeedFactory(
            seed_set=seeds,
            kind=SeedKind.LABELLED,
            payload={"text": f"About {label}.", "label": label},
            text=f"About {label}.",
        )
    SeedFactory(seed_set=seeds)  # an instruction seed has no label to offer
    run = RunFactory(project=project, seed_set=seeds)
    from_seeds = classification(project, label="tech", extra={}, run=run)
    stored = classification(project, extra={"labels": ["yes", "no"]}, run=run)
    alone = classification(project, extra={"labels": "not a list"})
    assert label_space(from_seeds) == ["politics", "sports", "tech"]
    assert label_space(stored) == ["yes", "no"]  # the recipe's own space comes first
    assert label_space(alone) == []


def test_without_a_known_label_space_any_label_goes() -> None:
    queue, ann, _ = queue_of(lambda p: classification(p, extra={}))
    a = services.claim_next(ann, queue)
    services.submit_review(ann, a, decision="accept", label="somewhat positive")
    assert Sample.objects.get(pk=a.item.sample_id).label == "somewhat positive"


def test_an_empty_label_is_refused() -> None:
    queue, ann, _ = queue_of(lambda p: classification(p, extra={}))
    with pytest.raises(InvalidLabel, match="cannot be empty"):
        services.submit_review(ann, services.claim_next(ann, queue), label="   ")


def test_the_submit_api_takes_a_label_and_answers_400_outside_the_label_space(
    api_client_for: Any,
) -> None:
    queue, ann, _ = queue_of(classification, classification)
    client = api_client_for(ann)
    claimed = client.post(f"/api/v1/queues/{queue.pk}/claim").json()
    assert claimed["sample"]["extra"]["labels"] == SPACE
    url = f"/api/v1/assignments/{claimed['id']}/submit"
    bad = client.post(url, {"decision": "accept", "label": "angry"}, "application/json")
    assert bad.status_code == 400 and "not in this sample's label space" in bad.json()["detail"]
    good = client.post(url, {"decision": "accept", "label": "neutral"}, "application/json")
    assert good.status_code == 200 and good.json()["edited"] is True
    assert Sample.objects.get(pk=claimed["sample"]["id"]).label == "neutral"


def test_the_schema_documents_the_label_of_a_submission() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    label = schema["components"]["schemas"]["SubmitIn"]["properties"]["label"]
    assert "label space" in label["description"]


def page_for(user: Any, queue: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/queues/{queue.pk}/review/").content.decode()


def test_the_review_page_shows_the_label_and_a_select_of_its_label_space() -> None:
    queue, ann, _ = queue_of(classification)
    page = page_for(ann, queue)
    assert '<strong class="label-value" id="current-label">positive</strong>' in page
    assert '<select id="label-control" name="label" aria-keyshortcuts="l"' in page
    assert '<option value="positive" selected>positive</option>' in page
    assert '<option value="neutral">neutral</option>' in page
    assert "<dt>l</dt><dd>change the label" in page  # the help dialog names the key


def test_a_label_outside_the_space_still_shows_and_no_space_means_free_text() -> None:
    queue, ann, _ = queue_of(lambda p: classification(p, label="meh"))
    page = page_for(ann, queue)
    assert '<option value="meh" selected>meh (not in the label space)</option>' in page
    queue, ann, _ = queue_of(lambda p: classification(p, label="<b>x</b>", extra={}))
    free = page_for(ann, queue)
    assert 'type="text" id="label-control" name="label" value="&lt;b&gt;x&lt;/b&gt;"' in free


def test_other_kinds_have_no_label_control() -> None:
    queue, ann, _ = queue_of(lambda p: SampleFactory(project=p))
    assert 'id="label-control"' not in page_for(ann, queue)


def test_the_page_saves_a_changed_label_and_says_why_it_refuses_one() -> None:
    queue, ann, _ = queue_of(classification, classification)
    client = Client()
    client.force_login(ann)
    a = services.claim_next(ann, queue)
    refused = client.post(
        f"/assignments/{a.pk}/submit/", {"decision": "accept", "label": "angry"}
    ).content.decode()
    assert "is not in this sample&#x27;s label space" in refused
    assert Sample.objects.get(pk=a.item.sample_id).label == "positive"
    client.post(f"/assignments/{a.pk}/submit/", {"decision": "accept", "label": "negative"})
    assert Sample.objects.get(pk=a.item.sample_id).label == "negative"


def test_the_history_shows_a_label_change_as_part_of_the_diff(api_client_for: Any) -> None:
    queue, ann, curator = queue_of(classification)
    a = services.claim_next(ann, queue)
    services.submit_review(ann, a, decision="accept", label="neutral")
    body = api_client_for(curator).get(f"/api/v1/samples/{a.item.sample_id}/history").json()
    (revision,) = body["revisions"]
    assert revision["diff"][-2:] == ["-label: positive", "+label: neutral"]
