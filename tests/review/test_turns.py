"""Conversations in review: turns are numbered, named by agent, flagged and rated one by
one, and a conversation is cut after a turn as a revision that undo takes back."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.projects.models import AuditEvent, Role
from curation.review import services, turns
from curation.review.models import Assignment, AssignmentStatus, Review, SampleRevision
from curation.review.turns import InvalidTurns
from curation.samples.models import Sample
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory
from tests.review.test_labels import page_for

pytestmark = pytest.mark.django_db


def conversation(n: int = 10, system: bool = False) -> list[dict[str, str]]:
    """n alternating messages, user first; message i reads "m<i>" (turn i+1 without system)."""
    head = [{"role": "system", "content": "You are two agents."}] if system else []
    roles = ("user", "assistant")
    return head + [{"role": roles[i % 2], "content": f"m{i}"} for i in range(n)]


def queue_with(**sample: Any) -> tuple[Any, Any, Any, Sample]:
    project = ProjectFactory()
    curator = UserFactory(username="turn-curator")
    annotator = UserFactory(username="turn-annotator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    sample.setdefault("kind", "conversation")
    sample.setdefault("messages", conversation())
    made = SampleFactory(project=project, **sample)
    queue = services.create_queue(curator, project, name="conversations")
    return queue, annotator, curator, made


def test_turns_are_the_non_system_messages_counted_from_one() -> None:
    assert turns.numbers(conversation(3, system=True)) == [None, 1, 2, 3]
    assert turns.count(conversation(3, system=True)) == 3


def test_a_flagged_turn_is_stored_on_the_review_with_its_reason_and_rating() -> None:
    queue, ann, _, sample = queue_with()
    a = services.claim_next(ann, queue)
    marks = {"3": {"flag": True, "reason": "  off topic "}, "5": {"rating": 2}}
    review = services.submit_review(ann, a, decision="accept", turns=marks)
    assert review.turns == {"3": {"flag": True, "reason": "off topic"}, "5": {"rating": 2}}
    assert not review.edited and not SampleRevision.objects.exists()
    event = AuditEvent.objects.get(verb="review.submit")
    assert event.after["turns_flagged"] == [3] and event.after["turns_rated"] == {"5": 2}
    from curation.review.history import sample_history

    (row,) = sample_history(sample)["reviews"]
    assert row["turns"]["3"]["reason"] == "off topic"


def test_a_cut_keeps_the_turns_up_to_the_chosen_one_and_undo_brings_the_rest_back() -> None:
    queue, ann, _, sample = queue_with(messages=conversation(10, system=True))
    a = services.claim_next(ann, queue)
    review = services.submit_review(ann, a, decision="accept", truncate_after=6)
    sample.refresh_from_db()
    assert [m["content"] for m in sample.messages] == [
        "You are two agents.", "m0", "m1", "m2", "m3", "m4", "m5",
    ]  # fmt: skip
    assert review.edited and sample.status == "accepted"
    revision = SampleRevision.objects.get(sample=sample)
    assert revision.truncated_after == 6 and len(revision.messages_before) == 11
    event = AuditEvent.objects.get(verb="review.submit")
    assert (event.after["truncated_after"], event.after["messages_cut"]) == (6, 4)
    services.undo_last(ann, queue)
    sample.refresh_from_db()
    assert sample.messages == conversation(10, system=True) and sample.status == "pending"
    assert not SampleRevision.objects.exists()


def test_an_edit_and_a_cut_in_one_review_are_one_revision_whose_diff_shows_the_cut() -> None:
    queue, ann, _, sample = queue_with()
    a = services.claim_next(ann, queue)
    edited = conversation()
    edited[3] = {"role": "assistant", "content": "A better fourth turn."}
    services.submit_review(ann, a, decision="accept", messages=edited, truncate_after=6)
    sample.refresh_from_db()
    assert len(sample.messages) == 6 and sample.messages[3]["content"] == "A better fourth turn."
    from curation.review.history import sample_history

    (revision,) = sample_history(sample)["revisions"]
    assert revision["truncated_after"] == 6
    assert revision["diff"][0] == "@@ truncated after turn 6: 4 messages cut @@"
    assert "-user: m6" in revision["diff"]
    assert "+assistant: A better fourth turn." in revision["diff"]


def test_cutting_after_the_last_turn_changes_nothing() -> None:
    queue, ann, _, _ = queue_with()
    review = services.submit_review(
        ann, services.claim_next(ann, queue), decision="accept", truncate_after=10
    )
    assert not review.edited and not SampleRevision.objects.exists()
    assert "truncated_after" not in AuditEvent.objects.get(verb="review.submit").after


@pytest.mark.parametrize(
    ("marks", "cut", "message"),
    [
        ({"11": {"flag": True}}, None, "Turn '11' is not in this conversation: its turns are 1 to"),
        ({"0": {"flag": True}}, None, "Turn '0' is not in this conversation"),
        ({"three": {"flag": True}}, None, "Turn 'three' is not in this conversation"),
        ({"3": True}, None, "Turn 3: expected an object"),
        ({"3": {"flag": "yes"}}, None, "Turn 3: flag must be true or false"),
        ({"3": {"flag": True, "why": "x"}}, None, "unknown field\\(s\\) why"),
        ({"3": {"reason": "bad"}}, None, "a reason explains a flag"),
        ({"3": {"flag": True, "reason": "x" * 301}}, None, "at most 300"),
        ({"3": {"rating": 6}}, None, "rating must be a whole number from 1 to 5"),
        ({"3": {"rating": True}}, None, "rating must be a whole number"),
        (["3"], None, "turns must be an object keyed by turn number"),
        (None, 11, "truncate_after must be a turn from 1 to 10; got 11"),
        (None, 0, "truncate_after must be a turn from 1 to 10; got 0"),
        (None, 1, "would leave no user turn followed by an assistant turn"),
    ],
)
def test_bad_turn_marks_or_cuts_are_refused_and_nothing_is_saved(
    marks: Any, cut: Any, message: str
) -> None:
    queue, ann, _, sample = queue_with()
    a = services.claim_next(ann, queue)
    with pytest.raises(InvalidTurns, match=message):
        services.submit_review(ann, a, decision="accept", turns=marks, truncate_after=cut)
    assert Assignment.objects.get(pk=a.pk).status == AssignmentStatus.OPEN
    assert not Review.objects.exists() and not SampleRevision.objects.exists()
    assert Sample.objects.get(pk=sample.pk).messages == conversation()


def test_only_conversation_samples_take_turn_marks_or_a_cut() -> None:
    queue, ann, _, _ = queue_with(kind="sft", messages=conversation(4))
    a = services.claim_next(ann, queue)
    with pytest.raises(InvalidTurns, match="Only conversation samples can be truncated; this one"):
        services.submit_review(ann, a, decision="accept", truncate_after=2)
    with pytest.raises(InvalidTurns, match="Only conversation samples have turns to flag"):
        services.submit_review(ann, a, decision="accept", turns={"1": {"flag": True}})


def test_the_submit_api_takes_turns_and_a_cut_and_answers_400_with_the_reason(
    api_client_for: Any,
) -> None:
    queue, ann, curator, sample = queue_with()
    client = api_client_for(ann)
    claimed = client.post(f"/api/v1/queues/{queue.pk}/claim").json()
    url = f"/api/v1/assignments/{claimed['id']}/submit"
    bad = client.post(url, {"decision": "accept", "truncate_after": 12}, "application/json")
    assert bad.status_code == 400 and "from 1 to 10; got 12" in bad.json()["detail"]
    flag = {"decision": "accept", "turns": {"3": {"flag": True}}, "truncate_after": 6}
    good = client.post(url, flag, "application/json")
    assert good.status_code == 200, good.content
    body = good.json()
    assert body["turns"] == {"3": {"flag": True}} and body["truncated_after"] == 6
    assert body["edited"] is True
    assert len(Sample.objects.get(pk=sample.pk).messages) == 6
    summary = api_client_for(curator).get(f"/api/v1/queues/{queue.pk}").json()
    assert summary["turns"] == {
        "reviews_with_marks": 1, "flagged_turns": 1, "rated_turns": 0, "truncated": 1,
    }  # fmt: skip
    history = api_client_for(curator).get(f"/api/v1/samples/{sample.pk}/history").json()
    assert history["reviews"][0]["turns"] == {"3": {"flag": True}}


def test_the_schema_documents_turns_and_truncate_after() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    props = schema["components"]["schemas"]["SubmitIn"]["properties"]
    assert "non-system messages counted from 1" in props["turns"]["description"]
    assert "undo takes back" in props["truncate_after"]["description"]


LINEAGE = [
    {"turn": i, "agent": name, "role": "policy", "model": "m-small", "tokens_in": 5,
     "tokens_out": 7}
    for i, name in enumerate(["Guesser", "Defender"] * 4)
]  # fmt: skip
PERSONAS = {"Guesser": "Curious <b>and</b> quick.", "Defender": "Careful, never says the word."}


def agents_sample() -> dict[str, Any]:
    """Two opening user messages, then eight simulated turns (as generation/sim stores them)."""
    return {"extra": {"turns": LINEAGE, "personas": PERSONAS}}


def test_speakers_follow_the_opening_and_keep_their_turns_after_a_cut() -> None:
    queue, ann, _, sample = queue_with(**agents_sample())
    who = [s and s["agent"] for s in turns.speakers(sample)]
    assert who == [None, None, "Guesser", "Defender"] * 1 + ["Guesser", "Defender"] * 3
    services.submit_review(
        ann, services.claim_next(ann, queue), decision="accept", truncate_after=5
    )
    sample.refresh_from_db()
    assert [s and s["agent"] for s in turns.speakers(sample)] == [
        None, None, "Guesser", "Defender", "Guesser",
    ]  # fmt: skip


def test_entries_that_name_their_message_are_placed_there_and_bad_ones_left_out() -> None:
    extra = {"turns": [{"message": 1, "agent": "Tutor"}, {"message": 0, "agent": ["x"]}]}
    _, _, _, sample = queue_with(extra=extra, messages=conversation(2))
    assert [s and s["agent"] for s in turns.speakers(sample)] == [None, "Tutor"]


def test_the_review_page_numbers_turns_names_agents_and_folds_the_personas() -> None:
    queue, ann, _, _ = queue_with(messages=conversation(10, system=True), **agents_sample())
    page = page_for(ann, queue)
    assert "Turns are the non-system messages, counted from 1." in page
    assert 'data-index="0" tabindex="-1"' in page  # the system message has no turn number
    assert 'data-index="3" data-turn="3"' in page
    assert '<span class="turn-number">Turn 3</span> · user · <span class="turn-agent"' in page
    assert ">Guesser</span>" in page and "model m-small, 7 tokens" in page
    assert '<details class="personas" id="personas"><summary>Personas' in page
    assert "Curious &lt;b&gt;and&lt;/b&gt; quick." in page  # untrusted: escaped
    assert 'name="turns"' in page and 'name="truncate_after"' in page
    assert "<dt>f</dt><dd>conversations: flag the selected turn" in page
    assert "<dt>x</dt><dd>conversations: cut after the selected turn" in page


def test_other_kinds_have_no_turn_controls() -> None:
    queue, ann, _, _ = queue_with(kind="sft", messages=conversation(2))
    page = page_for(ann, queue)
    assert 'data-action="flag"' not in page and 'name="truncate_after"' not in page
    assert 'data-action="edit"' in page


def test_the_page_saves_flags_and_a_cut_and_the_history_page_shows_them() -> None:
    queue, ann, curator, sample = queue_with()
    client = Client()
    client.force_login(ann)
    a = services.claim_next(ann, queue)
    refused = client.post(
        f"/assignments/{a.pk}/submit/", {"decision": "accept", "truncate_after": "1"}
    ).content.decode()
    assert "would leave no user turn followed by an assistant turn" in refused
    client.post(
        f"/assignments/{a.pk}/submit/",
        {"decision": "accept", "turns": '{"3": {"flag": true, "reason": "rude"}}',
         "truncate_after": "6"},
    )  # fmt: skip
    assert Review.objects.get().turns == {"3": {"flag": True, "reason": "rude"}}
    assert len(Sample.objects.get(pk=sample.pk).messages) == 6
    client.force_login(curator)
    history = client.get(f"/samples/{sample.pk}/history/").content.decode()
    assert '<li data-turn="3">turn 3: flagged (rude)</li>' in history
    assert '<span class="badge">cut after turn 6</span>' in history
    assert "@@ truncated after turn 6: 4 messages cut @@" in history
