"""The review flow as people use it: keys, edits with a diff, ranking, undo, untrusted text."""

from __future__ import annotations

from typing import Any

import pytest

from curation.projects.models import Role
from curation.review import services
from curation.review.models import Review
from curation.samples.models import Sample
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    SampleFactory,
    UserFactory,
    sample_hash,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def setup_queue(samples: list[dict[str, Any]] | int, overlap: int = 1) -> tuple[Any, Any]:
    project = ProjectFactory(name="Browser")
    curator = UserFactory(username="b-curator")
    annotator = UserFactory(username="b-annotator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    if isinstance(samples, int):
        for _ in range(samples):
            SampleFactory(project=project)
    else:
        for fields in samples:
            SampleFactory(project=project, **fields)
    queue = services.create_queue(
        curator, project, name="Browser queue", overlap=overlap, order="random"
    )
    return queue, annotator


def open_review(page_as: Any, live_server: Any, queue: Any, user: Any) -> Any:
    page = page_as(user)
    page.goto(f"{live_server.url}/queues/{queue.pk}/review/")
    page.wait_for_selector("#item[data-assignment]")
    return page


def next_item(page: Any, before: str) -> None:
    page.wait_for_function(
        "b => document.querySelector('#item')?.dataset.assignment !== b", arg=before
    )


def test_ten_items_are_reviewed_by_keyboard(page_as: Any, live_server: Any) -> None:
    queue, annotator = setup_queue(10)
    page = open_review(page_as, live_server, queue, annotator)
    for n in range(10):
        current = page.get_attribute("#item", "data-assignment")
        page.keyboard.press(str(1 + n % 5))
        page.keyboard.press("a" if n % 2 == 0 else "r")
        next_item(page, current)
    page.wait_for_selector("#queue-done")
    reviews = Review.objects.filter(item__queue=queue, annotator=annotator)
    assert reviews.count() == 10
    assert sorted(reviews.values_list("decision", flat=True)) == ["accept"] * 5 + ["reject"] * 5
    assert sorted(reviews.values_list("rating", flat=True)) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert all(r.time_spent_ms > 0 for r in reviews)
    assert not page.console_errors


def test_an_edit_shows_its_diff_and_becomes_a_revision(page_as: Any, live_server: Any) -> None:
    queue, annotator = setup_queue(1)
    page = open_review(page_as, live_server, queue, annotator)
    page.keyboard.press("e")
    box = page.locator(".turn-assistant .edit-box")
    box.fill("A much better answer.")
    box.press("Control+Enter")
    diff = page.locator(".turn-assistant .diff")
    diff.wait_for(state="visible")
    assert "better" in "".join(diff.locator("ins").all_inner_texts())
    assert diff.locator("del").count() >= 1
    current = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("a")
    next_item(page, current)
    sample = Sample.objects.get(project=queue.project)
    assert sample.messages[-1]["content"] == "A much better answer."
    revision = sample.revisions.get()
    assert revision.messages_before[-1]["content"] != "A much better answer."
    assert Review.objects.get(item__queue=queue).edited is True


def test_candidates_are_ranked_with_keys(page_as: Any, live_server: Any) -> None:
    prompt = [{"role": "user", "content": "Pick the better reply."}]
    queue, annotator = setup_queue(
        [
            {
                "kind": "preference",
                "messages": prompt,
                "chosen": [{"role": "assistant", "content": "First candidate."}],
                "rejected": [{"role": "assistant", "content": "Second candidate."}],
                "content_hash": sample_hash([*prompt, {"x": 1}]),
            }
        ]
    )
    page = open_review(page_as, live_server, queue, annotator)
    page.locator("#ranking li").first.click()
    page.keyboard.press("]")  # move the first candidate down
    assert page.locator("#ranking li").first.inner_text().strip() == "Second candidate."
    current = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("a")
    next_item(page, current)
    assert Review.objects.get(item__queue=queue).ranking == ["rejected", "chosen"]


def test_undo_brings_the_last_item_back(page_as: Any, live_server: Any) -> None:
    queue, annotator = setup_queue(3)
    page = open_review(page_as, live_server, queue, annotator)
    first = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("r")
    next_item(page, first)
    page.keyboard.press("u")
    page.wait_for_function(
        "b => document.querySelector('#item').dataset.assignment === b", arg=first
    )
    assert not Review.objects.filter(item__queue=queue).exists()
    assert page.locator("#item .flash").inner_text().startswith("Undone")


def test_markup_in_a_sample_stays_inert(page_as: Any, live_server: Any) -> None:
    nasty = [
        {
            "role": "user",
            "content": "<script>alert('x1')</script> and <img src=x onerror=\"alert('x2')\">",
        },
        {
            "role": "assistant",
            "content": "[click me](javascript:alert('x3')) <b onclick=alert(4)>b</b>",
        },
    ]
    queue, annotator = setup_queue([{"messages": nasty, "content_hash": sample_hash(nasty)}])
    page = open_review(page_as, live_server, queue, annotator)
    page.wait_for_timeout(300)  # give any script a chance to run (it must not)
    assert page.dialogs == []
    assert page.locator("#transcript script").count() == 0
    assert page.locator("#transcript [onerror], #transcript [onclick]").count() == 0
    assert page.locator("#transcript a[href^='javascript']").count() == 0
    page.locator("#transcript a", has_text="click me").count()  # text kept, link defanged
    assert "click me" in page.locator("#transcript").inner_text()
    page.goto(f"{live_server.url}/samples/{Sample.objects.get().pk}/")
    assert page.dialogs == []
