"""A run sends the pairs its judge is unsure of to people; they review them by keyboard, and
the judge-vs-human table then shows agreement per confidence band."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from curation.review.models import Review, ReviewQueue
from curation.samples.models import Sample
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.review import unsure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_a_thread(fn: Callable[[], Any]) -> Any:
    """Run it off the test thread, where Playwright's event loop is (the run uses asyncio)."""
    from django.db import connection

    out: list[Any] = []

    def work() -> None:
        try:
            out.append(fn())
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(120)
    assert out, "the run did not finish"
    return out[0]


def test_unsure_pairs_are_reviewed_and_banded_by_confidence(
    page_as: Any, live_server: Any, fake_llm: Any
) -> None:
    project = ProjectFactory(name="Unsure")
    owner = UserFactory(username="u-owner")
    annotator = UserFactory(username="u-annotator")
    MembershipFactory(project=project, user=owner, role="owner")
    MembershipFactory(project=project, user=annotator, role="annotator")
    run = in_a_thread(lambda: unsure.start(fake_llm, owner, project))
    queue = ReviewQueue.objects.get(feed_run=run)
    assert queue.items.count() == 3
    assert Sample.objects.filter(run=run, auto_accepted=True).count() == 3

    page = page_as(annotator)
    page.goto(f"{live_server.url}/queues/{queue.pk}/review/")
    for key in ("a", "a", "r"):
        page.wait_for_selector("#item[data-assignment]")
        assert page.inner_text("#judge-confidence") == "0.43"
        current = page.get_attribute("#item", "data-assignment")
        page.keyboard.press(key)
        page.wait_for_function(
            "b => document.querySelector('#item')?.dataset.assignment !== b", arg=current
        )
    page.wait_for_selector("#queue-done")
    assert Review.objects.filter(item__queue=queue).count() == 3

    page = page_as(owner)
    page.goto(f"{live_server.url}/queues/{queue.pk}/")
    assert "3 accepted automatically" in page.inner_text("#feed")
    low = page.locator("#judge-vs-human tr[data-band='0-0.5'] td")
    assert low.all_inner_texts() == ["0-0.5", "3", "3", "67%", "67%"]
    sure = page.locator("#judge-vs-human tr[data-band='0.9-1'] td")
    assert sure.all_inner_texts() == ["0.9-1", "0", "0", "–", "–"]
    assert "No confidence band agrees" in page.inner_text("#judge-vs-human")
    assert not page.console_errors

    page.goto(f"{live_server.url}/projects/{project.pk}/samples/?decided_by=auto")
    assert page.locator("#sample-table .badge.auto").count() == 3
