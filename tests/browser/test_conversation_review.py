"""Reviewing a multi-agent conversation by keyboard: turns by number and agent, a flag, an
edit and a cut, then the export holds the conversation as review left it; undo restores it."""

from __future__ import annotations

from typing import Any

import pytest

from curation.review.models import Review, SampleRevision
from curation.samples.models import Sample
from tests.browser.test_review import next_item, open_review, setup_queue
from tests.exports.helpers import export_now, jsonl_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AGENTS = ("Asker", "Answerer")
TALK = [
    {"role": ("user", "assistant")[i % 2], "content": f"Turn {i + 1} of the talk."}
    for i in range(10)
]
EXTRA = {
    "turns": [
        {"turn": i, "agent": AGENTS[i % 2], "role": "policy", "model": "m-small", "tokens_out": 9}
        for i in range(10)
    ],
    "personas": {"Asker": "Asks short questions.", "Answerer": "Answers <i>carefully</i>."},
}


def test_a_conversation_is_flagged_edited_and_cut_by_keyboard_and_exported_so(
    page_as: Any, live_server: Any
) -> None:
    queue, annotator = setup_queue([{"kind": "conversation", "messages": TALK, "extra": EXTRA}])
    page = open_review(page_as, live_server, queue, annotator)
    assert page.locator(".turn[data-turn='4'] .turn-agent").text_content() == "Answerer"
    page.locator("#personas summary").click()
    assert "Answers <i>carefully</i>." in page.locator("#personas").inner_text()
    page.keyboard.press("?")
    assert "A turn is a non-system message, counted from 1" in page.locator("#help").inner_text()
    page.keyboard.press("?")
    for _ in range(3):
        page.keyboard.press("j")  # turn 3
    page.keyboard.press("f")
    page.locator(".turn[data-turn='3'] .flag-reason").wait_for(state="visible")
    page.keyboard.type("Answers its own question")
    page.keyboard.press("Enter")
    assert page.locator(".turn[data-turn='3'].flagged .flag-badge").is_visible()
    assert not page.locator(".turn[data-turn='2'] .flag-badge").is_visible()
    page.keyboard.press("j")  # turn 4
    page.keyboard.press("e")
    box = page.locator(".turn[data-turn='4'] .edit-box")
    box.fill("A better fourth turn.")
    box.press("Control+Enter")
    page.locator(".turn[data-turn='4'] .diff").wait_for(state="visible")
    page.keyboard.press("j")
    page.keyboard.press("j")  # turn 6
    page.keyboard.press("x")
    dialog = page.locator("#cut-confirm")
    dialog.wait_for(state="visible")
    assert "Keep turns 1–6 and cut turns 7–10?" in dialog.inner_text()
    page.keyboard.press("Enter")
    notice = page.locator("#cut-notice")
    notice.wait_for(state="visible")
    assert "Cut after turn 6: the 4 messages after it (turns 7–10)" in notice.inner_text()
    assert page.locator(".turn.cut").count() == 4
    # The notice stands under the last kept turn, not at the end of a long conversation.
    assert page.locator(".turn[data-turn='6'] + #cut-notice").count() == 1
    current = page.get_attribute("#item", "data-assignment")
    page.keyboard.press("a")
    next_item(page, current)
    page.wait_for_selector("#queue-done")

    review = Review.objects.get(item__queue=queue)
    assert review.turns == {"3": {"flag": True, "reason": "Answers its own question"}}
    assert review.decision == "accept" and review.edited
    sample = Sample.objects.get(project=queue.project)
    assert SampleRevision.objects.get(sample=sample).truncated_after == 6
    (row,) = jsonl_rows(export_now(annotator, queue.project, format="openai"))
    assert [m["content"] for m in row["messages"]] == [
        "Turn 1 of the talk.", "Turn 2 of the talk.", "Turn 3 of the talk.",
        "A better fourth turn.", "Turn 5 of the talk.", "Turn 6 of the talk.",
    ]  # fmt: skip
    assert row["messages"][-1]["role"] == "assistant"

    page.keyboard.press("u")  # undo: the conversation comes back whole
    page.wait_for_function(
        "b => document.querySelector('#item').dataset.assignment === b", arg=current
    )
    sample.refresh_from_db()
    assert sample.messages == TALK and not SampleRevision.objects.exists()
    assert page.locator("#transcript .turn").count() == 10
    assert not page.console_errors


def test_a_cut_that_leaves_no_pair_is_refused_in_the_page(page_as: Any, live_server: Any) -> None:
    queue, annotator = setup_queue([{"kind": "conversation", "messages": TALK}])
    page = open_review(page_as, live_server, queue, annotator)
    page.keyboard.press("j")  # turn 1, a user turn: nothing would be left to learn from
    page.keyboard.press("x")
    notice = page.locator("#cut-notice")
    notice.wait_for(state="visible")
    assert "would leave no user turn followed by an assistant turn" in notice.inner_text()
    assert not page.locator("#cut-confirm").is_visible()
    assert page.locator(".turn.cut").count() == 0
