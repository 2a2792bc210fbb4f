"""A curator resolves a duplicate cluster in the browser; the review queue then skips it."""

from __future__ import annotations

from typing import Any

import pytest

from curation.dedup.models import DupCluster
from curation.dedup.services import scan
from curation.projects.models import Role
from curation.review import services
from curation.samples.models import Sample
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWER = "Waves hum under the moon."
PROMPTS = [
    "Write a short poem about the ocean at night.",
    "Compose a brief poem describing the sea at night.",  # a paraphrase of the first
    "List three benefits of regular exercise for office workers.",
]


def test_a_curator_keeps_the_canonical_and_the_queue_skips_the_duplicate(
    page_as: Any, live_server: Any
) -> None:
    project = ProjectFactory(name="Dups")
    curator, annotator = UserFactory(username="d-curator"), UserFactory(username="d-annotator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    samples = [
        SampleFactory(
            project=project,
            messages=[{"role": "user", "content": p}, {"role": "assistant", "content": ANSWER}],
        )
        for p in PROMPTS
    ]
    queue = services.create_queue(curator, project, name="Before dedup", overlap=1)
    scan(project.pk, full=True)  # the real MiniLM, as the worker would
    cluster = DupCluster.objects.get(project=project)
    assert cluster.members.count() == 2

    page = page_as(curator)
    page.goto(f"{live_server.url}/projects/{project.pk}/duplicates/")
    page.get_by_role("button", name="Keep canonical, reject the others").click()
    page.get_by_role("button", name="Undo").wait_for()
    duplicate = Sample.objects.get(project=project, status="rejected")
    assert duplicate.pk == samples[1].pk and duplicate.duplicate_of_id == samples[0].pk

    review = page_as(annotator)
    review.goto(f"{live_server.url}/queues/{queue.pk}/review/")
    review.wait_for_selector("#item")
    seen = []
    while review.locator("#item:not([data-assignment=''])").count():
        current = review.get_attribute("#item", "data-assignment")
        seen.append(review.locator(".turn-user .turn-content").first.inner_text().strip())
        review.keyboard.press("a")
        review.wait_for_function(
            "b => document.querySelector('#item')?.dataset.assignment !== b", arg=current
        )
    review.wait_for_selector("#queue-done")
    assert sorted(seen) == sorted([PROMPTS[0], PROMPTS[2]])
    assert not page.console_errors and not review.console_errors
