"""Reviewing a tool trajectory by keyboard: `c` opens a call's arguments, bad JSON is
refused in place, a schema violation is refused by the server with nothing saved, and a
valid edit is saved with the decision."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.review.models import SampleRevision
from curation.samples.models import Sample
from tests.browser.test_review import next_item, open_review, setup_queue
from tests.review.test_tool_review import TOOLS, trajectory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_call_is_edited_by_keyboard_checked_and_saved(page_as: Any, live_server: Any) -> None:
    queue, annotator = setup_queue(
        [{"kind": "tool_trajectory", "messages": trajectory(), "tools": TOOLS}]
    )
    page = open_review(page_as, live_server, queue, annotator)
    block = page.locator(".tool-call[data-call-id='call_1']")
    assert "21°C" in block.locator(".tool-result").inner_text()
    assert block.locator(".verdict-ok").is_visible()
    page.keyboard.press("j")
    page.keyboard.press("j")  # the assistant's call
    page.keyboard.press("c")
    box = block.locator(".call-edit")
    box.wait_for(state="visible")
    box.fill('{"city": ')
    box.press("Control+Enter")
    assert "Not valid JSON" in block.locator(".call-error").inner_text()
    box.fill('{"city": 3}')
    box.press("Control+Enter")
    current = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("a")
    page.wait_for_selector(".flash-error")
    assert "Nothing was saved." in page.locator(".flash").inner_text()
    assert not SampleRevision.objects.exists()
    page.locator(".tool-call[data-call-id='call_1'] [data-action=edit-call]").click()
    box = page.locator(".tool-call[data-call-id='call_1'] .call-edit")
    box.fill('{"city": "Bergen"}')
    box.press("Control+Enter")
    page.keyboard.press("a")
    next_item(page, current)
    sample = Sample.objects.get()
    assert json.loads(sample.messages[1]["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Bergen"
    }
    assert SampleRevision.objects.count() == 1
