"""Agent trajectories in review: steps (from the messages or extra.steps), labelled and
collapsible, the env checker's verdict at the top, and the first wrong step stored on the
review, checked against the number of steps, audited and taken back by undo."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.projects.models import AuditEvent
from curation.review import services, steps
from curation.review.models import Review
from curation.review.steps import InvalidStep
from tests.review.test_labels import page_for
from tests.review.test_turns import queue_with

pytestmark = pytest.mark.django_db

SQL_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "execute_sql",
            "description": "Run one SQL statement",
            "parameters": {
                "type": "object",
                "properties": {"sql": {"type": "string"}},
                "required": ["sql"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "finish",
            "description": "Give the answer",
            "parameters": {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            },
        },
    },
]


def _call(cid: str, name: str, args: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def agent_messages(answer: str = "3", sql: str = "SELECT count(*) FROM pets") -> list[Any]:
    """Three steps: a query, its fix, and the answer; the first query fails."""
    return [
        {"role": "system", "content": "You answer with SQL."},
        {"role": "user", "content": "How many pets are there?"},
        {
            "role": "assistant",
            "content": "I will count the rows.",
            "tool_calls": [_call("c1", "execute_sql", '{"sql": "SELECT count(*) FROM pet"}')],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "no such table: pet"},
        {
            "role": "assistant",
            "content": "The table is pets.",
            "tool_calls": [_call("c2", "execute_sql", f'{{"sql": "{sql}"}}')],
        },
        {"role": "tool", "tool_call_id": "c2", "content": "[[3]]"},
        {"role": "assistant", "content": f"There are {answer} pets."},
    ]


def env_extra(success: bool = True, **more: Any) -> dict[str, Any]:
    verdict = {
        "success": success,
        "score": 1.0 if success else 0.0,
        "reasons": ["the answer equals the gold query's"] if success else ["<b>wrong</b> count"],
        "details": {},
    }
    return {"env": {"name": "SQLiteEnv", "verdict": verdict, "task": {"q": 1}}, **more}


STORED_STEPS = [
    {"thought": "Look", "action": {"name": "search", "arguments": {"q": "x"}},
     "observation": "3 hits", "error": False},
    {"thought": "Open it", "action": {"name": "open", "arguments": '{"doc_id": 7}'},
     "observation": "<script>x</script>", "error": True},
    {"thought": "Quote", "action": {"name": "quote", "arguments": {}}, "observation": "ok",
     "error": False},
    {"thought": "Done", "action": {"name": "finish", "arguments": {"answer": "y"}},
     "observation": "", "error": False},
]  # fmt: skip


def agent_queue(**sample: Any) -> tuple[Any, Any, Any, Any]:
    sample.setdefault("messages", agent_messages())
    sample.setdefault("tools", SQL_TOOLS)
    sample.setdefault("extra", env_extra())
    return queue_with(kind="tool_trajectory", **sample)


def test_a_step_is_an_assistant_turn_with_its_calls_and_their_results() -> None:
    found = steps.steps_of(agent_messages(), {})
    assert len(found) == 3
    assert found[0] == {
        "thought": "I will count the rows.",
        "actions": [{"name": "execute_sql", "arguments": {"sql": "SELECT count(*) FROM pet"}}],
        "observations": ["no such table: pet"],
        "error": False,
    }
    assert found[2]["actions"] == [] and found[2]["thought"] == "There are 3 pets."
    assert steps.message_steps(agent_messages(), {}) == [None, None, 1, 1, 2, 2, 3]


def test_stored_steps_are_used_when_the_recipe_kept_them() -> None:
    found = steps.steps_of(agent_messages(), {"steps": STORED_STEPS})
    assert len(found) == 4
    assert found[1]["actions"] == [{"name": "open", "arguments": {"doc_id": 7}}]
    assert found[1]["error"] is True and found[3]["observations"] == [""]
    assert steps.message_steps(agent_messages(), {"steps": STORED_STEPS}) == [None] * 7


def test_the_page_shows_the_verdict_at_the_top_and_labelled_collapsed_steps() -> None:
    queue, ann, _, _ = agent_queue(extra=env_extra(False))
    page = page_for(ann, queue)
    assert page.index('id="env-verdict"') < page.index('id="transcript"')
    assert "Env checker (SQLiteEnv): failure" in page and "score 0.00" in page
    assert "&lt;b&gt;wrong&lt;/b&gt; count" in page and "<b>wrong</b>" not in page
    assert page.count('<details class="traj-step') == 3  # collapsed: no `open`
    assert '<details class="traj-step" data-step="1">' in page
    for label in ("Thought", "Action", "Observation"):
        assert f'<span class="step-label muted small">{label}' in page
    assert 'name="first_wrong_step"' in page and 'data-action="wrong-step"' in page
    assert 'data-step="2" tabindex="-1"' in page  # the transcript's turns know their step
    assert "<dt>w</dt>" in page


def test_stored_steps_show_escaped_with_their_error_mark() -> None:
    queue, ann, _, _ = agent_queue(extra=env_extra(steps=STORED_STEPS))
    page = page_for(ann, queue)
    assert page.count('<details class="traj-step') == 4
    assert '<details class="traj-step step-error" data-step="2">' in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page


def test_a_plain_sample_has_no_steps_panel_and_no_verdict() -> None:
    queue, ann, _, _ = queue_with(kind="sft", messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
    ])  # fmt: skip
    page = page_for(ann, queue)
    assert 'id="steps"' not in page and 'id="env-verdict"' not in page
    assert 'name="first_wrong_step"' not in page


def test_the_first_wrong_step_is_stored_on_the_review_and_audited() -> None:
    queue, ann, _, sample = agent_queue()
    a = services.claim_next(ann, queue)
    review = services.submit_review(ann, a, decision="reject", first_wrong_step=2)
    assert Review.objects.get(pk=review.pk).first_wrong_step == 2
    event = AuditEvent.objects.get(verb="review.submit")
    assert event.after["first_wrong_step"] == 2 and event.after["sample"] == sample.pk
    from curation.review.history import sample_history

    assert sample_history(sample)["reviews"][0]["first_wrong_step"] == 2


def test_a_rating_alone_leaves_no_mark() -> None:
    queue, ann, _, _ = agent_queue()
    a = services.claim_next(ann, queue)
    review = services.submit_review(ann, a, decision="accept", rating=4)
    assert review.first_wrong_step is None and review.rating == 4
    assert "first_wrong_step" not in AuditEvent.objects.get(verb="review.submit").after


@pytest.mark.parametrize("value", [0, 4, -1, True])
def test_a_step_outside_the_trajectory_is_refused_and_nothing_is_saved(value: Any) -> None:
    queue, ann, _, _ = agent_queue()
    a = services.claim_next(ann, queue)
    with pytest.raises(InvalidStep, match=r"a step from 1 to 3 of this trajectory"):
        services.submit_review(ann, a, decision="reject", first_wrong_step=value)
    assert not Review.objects.exists()


def test_stored_steps_set_the_range() -> None:
    queue, ann, _, _ = agent_queue(extra=env_extra(steps=STORED_STEPS))
    a = services.claim_next(ann, queue)
    review = services.submit_review(ann, a, decision="reject", first_wrong_step=4)
    assert review.first_wrong_step == 4


def test_a_sample_without_steps_cannot_take_a_first_wrong_step() -> None:
    queue, ann, _, _ = queue_with()  # a conversation
    a = services.claim_next(ann, queue)
    with pytest.raises(InvalidStep, match="Only agent trajectories have steps"):
        services.submit_review(ann, a, decision="reject", first_wrong_step=1)


def test_undo_takes_the_mark_back_with_the_review_and_audits_it() -> None:
    queue, ann, _, _ = agent_queue()
    a = services.claim_next(ann, queue)
    services.submit_review(ann, a, decision="reject", first_wrong_step=3)
    back = services.undo_last(ann, queue)
    assert back.pk == a.pk and not Review.objects.exists()
    undo = AuditEvent.objects.get(verb="review.undo")
    assert undo.before["first_wrong_step"] == 3
    again = services.submit_review(ann, back, decision="accept")
    assert again.first_wrong_step is None


def test_the_review_page_form_sends_the_mark() -> None:
    queue, ann, _, _ = agent_queue()
    client = Client()
    client.force_login(ann)
    client.get(f"/queues/{queue.pk}/review/")
    a = services.claim_next(ann, queue)
    assert a is not None
    client.post(f"/assignments/{a.pk}/submit/", {"decision": "reject", "first_wrong_step": "1"})
    assert Review.objects.get().first_wrong_step == 1
    services.undo_last(ann, queue)
    page = client.post(
        f"/assignments/{a.pk}/submit/", {"decision": "reject", "first_wrong_step": "9"}
    ).content.decode()
    assert "a step from 1 to 3" in page and "Nothing was saved." in page
    assert not Review.objects.exists()


def test_the_submit_api_takes_first_wrong_step_and_answers_400_or_422(
    api_client_for: Any,
) -> None:
    queue, ann, curator, sample = agent_queue()
    client = api_client_for(ann)
    claimed = client.post(f"/api/v1/queues/{queue.pk}/claim").json()
    url = f"/api/v1/assignments/{claimed['id']}/submit"
    beyond = client.post(url, {"decision": "reject", "first_wrong_step": 7}, "application/json")
    assert beyond.status_code == 400
    assert "a step from 1 to 3 of this trajectory; got 7" in beyond.json()["detail"]
    zero = client.post(url, {"decision": "reject", "first_wrong_step": 0}, "application/json")
    assert zero.status_code == 422
    good = client.post(url, {"decision": "reject", "first_wrong_step": 2}, "application/json")
    assert good.status_code == 200, good.content
    assert good.json()["first_wrong_step"] == 2
    history = api_client_for(curator).get(f"/api/v1/samples/{sample.pk}/history").json()
    assert history["reviews"][0]["first_wrong_step"] == 2


def test_the_schema_documents_first_wrong_step() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    prop = schema["components"]["schemas"]["SubmitIn"]["properties"]["first_wrong_step"]
    assert "steps counted from 1" in prop["description"]
