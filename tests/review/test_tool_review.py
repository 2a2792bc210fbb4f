"""Tool trajectories in review: calls and results as blocks (escaped), the BFCL checker's
verdict per call, and argument edits checked against the tool's schema, saved as a
revision that undo takes back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from curation.review import services, tool_calls
from curation.review.models import SampleRevision
from curation.review.tool_calls import InvalidToolCall
from curation.samples.models import Sample
from tests.review.test_labels import page_for
from tests.review.test_turns import queue_with

pytestmark = pytest.mark.django_db

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]


def trajectory(args: str = '{"city": "Oslo"}') -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": args},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "<script>alert(1)</script> 21°C"},
        {"role": "assistant", "content": "Sunny."},
    ]


def tool_queue(**sample: Any) -> tuple[Any, Any, Any, Sample]:
    sample.setdefault("messages", trajectory())
    return queue_with(kind="tool_trajectory", tools=TOOLS, **sample)


def args_of(sample: Sample) -> dict[str, Any]:
    sample.refresh_from_db()
    return json.loads(sample.messages[1]["tool_calls"][0]["function"]["arguments"])


def test_the_page_shows_each_call_with_pretty_arguments_its_result_and_a_verdict() -> None:
    queue, ann, _, _ = tool_queue(messages=trajectory('{"city": "<b>Oslo</b>"}'))
    page = page_for(ann, queue)
    assert '<code class="call-name">get_weather</code>' in page
    assert (
        "{\n  &quot;city&quot;: &quot;&lt;b&gt;Oslo&lt;/b&gt;&quot;\n}" in page
    )  # indented, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 21°C" in page  # the result, in its block
    assert "<script>alert(1)</script>" not in page and "<b>Oslo</b>" not in page
    assert "shown with its call above" in page
    assert 'title="BFCL AST checker">valid</span>' in page
    assert 'data-action="edit-call"' in page and 'name="tool_calls"' in page
    assert "<dt>c</dt><dd>tool calls: edit the arguments" in page


def test_a_call_that_breaks_the_schema_shows_the_checkers_problems() -> None:
    queue, ann, _, _ = tool_queue(messages=trajectory('{"days": "two"}'))
    page = page_for(ann, queue)
    assert 'title="BFCL AST checker">invalid</span>' in page
    assert "required parameter &#x27;city&#x27; is missing" in page
    assert "days:" in page


def test_the_verdict_uses_the_bfcl_possible_answers_when_the_sample_has_them() -> None:
    gold = {"bfcl": {"ground_truth": [{"get_weather": {"city": ["Bergen"]}}]}}
    _, _, _, sample = tool_queue(extra=gold)
    (block,) = tool_calls.blocks(sample)[1]
    assert block["verdict"]["valid"] is False and block["result"].endswith("21°C")


def test_an_edited_argument_is_a_revision_and_undo_takes_it_back() -> None:
    queue, ann, _, sample = tool_queue()
    a = services.claim_next(ann, queue)
    edits = {"1": [{"id": "call_1", "arguments": {"city": "Bergen", "days": 2}}]}
    review = services.submit_review(ann, a, decision="accept", tool_calls=edits)
    assert review.edited and args_of(sample) == {"city": "Bergen", "days": 2}
    revision = SampleRevision.objects.get()
    assert revision.messages_before[1]["tool_calls"][0]["function"]["arguments"] == (
        '{"city": "Oslo"}'
    )
    services.undo_last(ann, queue)
    assert args_of(sample) == {"city": "Oslo"}


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ('{"city": ', "not valid JSON"),
        ({"days": 2}, "required parameter 'city' is missing"),
        ({"city": "Oslo", "when": "now"}, "'when' is not a parameter of get_weather"),
        ({"city": 7}, "city:"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_an_edit_that_breaks_the_schema_is_refused_and_nothing_is_saved(
    arguments: Any, reason: str
) -> None:
    queue, ann, _, sample = tool_queue()
    a = services.claim_next(ann, queue)
    edits = {"1": [{"id": "call_1", "arguments": arguments}]}
    with pytest.raises(InvalidToolCall, match=reason):
        services.submit_review(ann, a, decision="accept", tool_calls=edits)
    assert args_of(sample) == {"city": "Oslo"} and not SampleRevision.objects.exists()


def test_extra_properties_pass_when_the_schema_allows_them() -> None:
    tools = json.loads(json.dumps(TOOLS))
    tools[0]["function"]["parameters"]["additionalProperties"] = True
    tool_calls.check_arguments(tools, "get_weather", {"city": "Oslo", "x": 1}, "here")
    with pytest.raises(InvalidToolCall):
        tool_calls.check_arguments(TOOLS, "get_weather", {"city": "Oslo", "x": 1}, "here")


def test_calls_edited_through_messages_are_checked_too() -> None:
    queue, ann, _, _ = tool_queue()
    a = services.claim_next(ann, queue)
    renamed = trajectory()
    renamed[1]["tool_calls"][0]["function"]["name"] = "get_wether"
    with pytest.raises(InvalidToolCall, match="is not one of the functions"):
        services.submit_review(ann, a, messages=renamed)
    # An unchanged call stays the model's, right or wrong: the verdict shows it.
    bad = trajectory('{"days": "x"}')
    queue2, ann2, _, _ = tool_queue(messages=bad)
    services.submit_review(ann2, services.claim_next(ann2, queue2), decision="reject", messages=bad)


def test_the_api_takes_tool_call_edits_and_answers_400_with_the_reason(
    api_client_for: Any,
) -> None:
    queue, ann, _, sample = tool_queue()
    client = api_client_for(ann)
    claimed = client.post(f"/api/v1/queues/{queue.pk}/claim").json()
    url = f"/api/v1/assignments/{claimed['id']}/submit"
    bad = {"decision": "accept", "tool_calls": {"1": [{"id": "call_1", "arguments": {}}]}}
    refused = client.post(url, bad, "application/json")
    assert refused.status_code == 400
    assert "required parameter 'city' is missing" in refused.json()["detail"]
    wrong = {"decision": "accept", "tool_calls": {"0": [{"id": "call_1", "arguments": {}}]}}
    assert client.post(url, wrong, "application/json").status_code == 400
    good = {
        "decision": "accept",
        "tool_calls": {"1": [{"id": "call_1", "arguments": {"city": "Rome"}}]},
    }
    answer = client.post(url, good, "application/json")
    assert answer.status_code == 200 and answer.json()["edited"] is True
    assert args_of(sample) == {"city": "Rome"}


def test_the_page_refuses_a_bad_edit_with_the_reason_and_keeps_the_item() -> None:
    queue, ann, _, sample = tool_queue()
    client = Client()
    client.force_login(ann)
    a = services.claim_next(ann, queue)
    bad = json.dumps({"1": [{"id": "call_1", "arguments": {"city": 1}}]})
    page = client.post(
        f"/assignments/{a.pk}/submit/", {"decision": "accept", "tool_calls": bad}
    ).content.decode()
    assert "Nothing was saved." in page and f'data-assignment="{a.pk}"' in page
    good = json.dumps({"1": [{"id": "call_1", "arguments": {"city": "Rome"}}]})
    client.post(f"/assignments/{a.pk}/submit/", {"decision": "accept", "tool_calls": good})
    assert args_of(sample) == {"city": "Rome"}
