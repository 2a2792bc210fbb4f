"""Reviewing an agent trajectory by keyboard: the env verdict on top, a collapsed step opened
with Enter, its first wrong step marked with `w`, saved with the decision, and carried by
the step-labelled export."""

from __future__ import annotations

from typing import Any

import pytest

from curation.review.models import Review
from tests.browser.test_review import next_item, open_review, setup_queue
from tests.exports.helpers import export_now, jsonl_rows
from tests.review.test_trajectory_review import SQL_TOOLS, agent_messages, env_extra

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_first_wrong_step_is_marked_by_keyboard_stored_and_exported(
    page_as: Any, live_server: Any
) -> None:
    queue, annotator = setup_queue(
        [{"kind": "tool_trajectory", "messages": agent_messages(), "tools": SQL_TOOLS,
          "extra": env_extra(False)}]
    )  # fmt: skip
    page = open_review(page_as, live_server, queue, annotator)
    assert "Env checker (SQLiteEnv): failure" in page.locator("#env-verdict").inner_text()
    step = page.locator(".traj-step[data-step='2']")
    thought = step.locator(".step-thought")
    assert not thought.is_visible()  # collapsed
    step.locator("summary").focus()
    page.keyboard.press("Enter")
    thought.wait_for(state="visible")
    assert "The table is pets." in thought.inner_text()
    assert "[[3]]" in step.locator(".step-observation").inner_text()
    page.keyboard.press("w")
    page.wait_for_selector(".traj-step[data-step='2'].first-wrong")
    assert page.locator(".traj-step[data-step='3']").get_attribute("class") == (
        "traj-step after-wrong"
    )
    assert "First wrong step: 2 of 3" in page.locator("#wrong-note").inner_text()
    page.keyboard.press("w")  # takes the mark back
    page.wait_for_selector(".traj-step.first-wrong", state="detached")
    assert page.input_value("input[name=first_wrong_step]") == ""
    page.keyboard.press("w")
    assert page.input_value("input[name=first_wrong_step]") == "2"
    current = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("r")
    next_item(page, current)
    review = Review.objects.get(annotator=annotator)
    assert review.first_wrong_step == 2 and review.decision == "reject"
    assert not page.console_errors
    export = export_now(annotator, queue.project, format="step_labels")
    (row,) = jsonl_rows(export)
    assert row["labels"] == [1, -1, 0] and row["first_wrong_step"] == 2
    assert row["label_source"] == "human"
