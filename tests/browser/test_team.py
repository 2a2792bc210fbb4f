"""Team review in two browsers: agreement appears, and a curator adjudicates a disagreement."""

from __future__ import annotations

from typing import Any

import pytest

from curation.projects.models import AuditEvent, Role
from curation.review import services
from curation.review.models import QueueItem, Review
from curation.samples.models import Judgement, Sample
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# By position in sample id order: both reject these; the second annotator alone rejects those.
BOTH_REJECT = {0, 5, 10, 15}
DISAGREE_ON = {3, 11, 17}


def test_two_annotators_in_two_browsers_then_a_curator_adjudicates(
    page_as: Any, live_server: Any
) -> None:
    project = ProjectFactory(name="Team")
    curator = UserFactory(username="t-curator")
    ann1, ann2 = UserFactory(username="t-ann1"), UserFactory(username="t-ann2")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    for user in (ann1, ann2):
        MembershipFactory(project=project, user=user, role=Role.ANNOTATOR)
    samples = [SampleFactory(project=project) for _ in range(20)]
    for i, sample in enumerate(samples):
        Judgement.objects.create(
            sample=sample, judge_model="j", rubric_id="additive", score=1 + i % 5
        )
    position = {s.pk: i for i, s in enumerate(samples)}
    queue = services.create_queue(curator, project, name="Team queue", overlap=2)

    pages = {}
    for user in (ann1, ann2):
        page = page_as(user)
        page.goto(f"{live_server.url}/queues/{queue.pk}/review/")
        page.wait_for_selector("#item[data-assignment]")
        pages[user] = page

    # The two annotate side by side, item for item, each in their own browser.
    for _ in range(20):
        for user, page in pages.items():
            current = page.get_attribute("#item", "data-assignment")
            sample_pk = (
                QueueItem.objects.filter(assignments__pk=int(current))
                .values_list("sample_id", flat=True)
                .get()
            )
            i = position[sample_pk]
            reject = i in BOTH_REJECT or (i in DISAGREE_ON and user is ann2)
            page.keyboard.press("2" if reject else "4")
            page.keyboard.press("r" if reject else "a")
            page.wait_for_function(
                "b => document.querySelector('#item')?.dataset.assignment !== b", arg=current
            )
    for page in pages.values():
        page.wait_for_selector("#queue-done")
    assert Review.objects.filter(item__queue=queue).count() == 40

    # Agreement figures appear on the queue page: 17 of 20 items agree.
    page = page_as(curator)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    figures = page.locator("#agreement dd").all_text_contents()
    # 17 of 20 agree; rejections 4/20 and 7/20, so p_e = .2*.35 + .8*.65 = .59 and
    # kappa = (.85 - .59) / (1 - .59) = 0.634.
    assert figures[0] == "0.850"
    assert figures[1] == "0.634"
    assert figures[2] not in ("", "–")
    assert page.locator("#annotator-stats tbody tr").count() == 2
    assert page.locator("#judge-vs-human svg.plot rect.bar").count() == 5

    # The curator adjudicates the first disagreement from the queue page.
    disputed = samples[min(DISAGREE_ON)]
    row = page.locator("tr", has=page.locator(f"a[href='/samples/{disputed.pk}/']"))
    row.get_by_role("button", name="Reject").click()
    page.wait_for_selector(".flash-success")
    item = QueueItem.objects.get(queue=queue, sample=disputed)
    assert item.final_decision == "reject" and item.adjudicated_by == curator
    assert Sample.objects.get(pk=disputed.pk).status == "rejected"
    event = AuditEvent.objects.get(verb="review.adjudicate")
    assert event.before["sample_status"] == "needs_review"
    # The other two disagreements still wait; the adjudicated one left the list.
    assert page.locator(f"a[href='/samples/{disputed.pk}/']").count() == 0
    assert all(not p.console_errors for p in pages.values())
