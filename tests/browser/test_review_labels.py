"""Relabelling by keyboard on the review page, and the lineage panel's collapsed texts."""

from __future__ import annotations

from typing import Any

import pytest

from curation.samples.models import Sample
from tests.browser.test_review import next_item, open_review, setup_queue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def classification(text: str, label: str) -> dict[str, Any]:
    return {
        "kind": "classification",
        "label": label,
        "messages": [{"role": "user", "content": text}],
        "content_hash": text,
        "extra": {
            "labels": ["positive", "negative", "neutral"],
            "rationale": "The reviewer says it broke: <b>negative</b>.",
        },
    }


def test_l_focuses_the_label_enter_keeps_a_new_one_and_a_saves_it(
    page_as: Any, live_server: Any
) -> None:
    queue, annotator = setup_queue([classification("It broke on day one.", "positive")])
    page = open_review(page_as, live_server, queue, annotator)
    page.keyboard.press("l")
    assert page.evaluate("document.activeElement.id") == "label-control"
    page.keyboard.press("ArrowDown")  # positive -> negative, without opening the list
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") != "label-control"
    assert page.is_visible("#label-changed")
    before = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("a")
    next_item(page, before)
    sample = Sample.objects.get(project=queue.project)
    assert (sample.label, sample.status) == ("negative", "accepted")
    assert not page.console_errors


def test_esc_puts_the_stored_label_back_and_keys_work_again(page_as: Any, live_server: Any) -> None:
    queue, annotator = setup_queue([classification("Fine, I suppose.", "neutral")])
    page = open_review(page_as, live_server, queue, annotator)
    page.keyboard.press("l")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Escape")
    assert page.input_value("#label-control") == "neutral"
    assert page.is_hidden("#label-changed")
    # The rationale starts collapsed; its summary is reachable and opens from the keyboard.
    assert page.is_hidden(".lineage details.collapsible pre")
    page.focus(".lineage details.collapsible summary")
    page.keyboard.press("Enter")
    assert "<b>negative</b>" in page.inner_text(".lineage details.collapsible pre")
    before = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("r")
    next_item(page, before)
    sample = Sample.objects.get(project=queue.project)
    assert (sample.label, sample.status) == ("neutral", "rejected")
