"""A project holding one of each thing an export reads: plain, tool-calling, classification
and AI-judged samples, plus the human work (an edit, rankings, accept and reject)."""

from __future__ import annotations

from typing import Any

import pytest

from curation.review import services as review
from curation.samples.models import Sample
from tests.cast import Cast
from tests.factories import PreferenceSampleFactory, RunFactory, SampleFactory, chat

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
TOOL_MESSAGES = [
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21°C"},
    {"role": "assistant", "content": "It is sunny in Oslo: 21°C."},
]


def _review(actor: Any, queue_name: str, project: Any, sample: Sample, **decision: Any) -> None:
    sample.tags = [queue_name]
    sample.save(update_fields=["tags"])
    queue = review.create_queue(actor, project, name=queue_name, filters={"tags": [queue_name]})
    assignment = review.claim_next(actor, queue)
    assert assignment is not None and assignment.item.sample_id == sample.pk
    review.submit_review(actor, assignment, **decision)


@pytest.fixture
def dataset(cast: Cast) -> dict[str, Any]:
    p = cast.project
    run = RunFactory(project=p, recipe_id="self_rewarding")
    out: dict[str, Any] = {"run": run}
    out["plain"] = SampleFactory(
        project=p, status="accepted", run=run, recipe_id="self_rewarding", model="m-1",
        messages=chat("What is 2+2?", "4."), judge_score=4.0, tags=["math"],
    )  # fmt: skip
    out["system"] = SampleFactory(
        project=p,
        status="accepted",
        messages=[
            {"role": "system", "content": "Be terse."},
            *chat("Capital of France?", "Paris."),
        ],
    )
    out["alpaca"] = SampleFactory(
        project=p,
        status="accepted",
        messages=chat("Translate to French.\n\nGood morning", "Bonjour"),
        extra={"instruction": "Translate to French.", "input": "Good morning"},
    )
    out["multi"] = SampleFactory(
        project=p,
        status="accepted",
        messages=[*chat("Hi <b>there</b>", "Hello!"), *chat("And again?", "Again, hello.")],
    )
    out["tools"] = SampleFactory(
        project=p, status="accepted", kind="tool_trajectory", messages=TOOL_MESSAGES, tools=TOOLS
    )
    out["label"] = SampleFactory(
        project=p, status="accepted", kind="classification", label="positive",
        messages=[{"role": "user", "content": "I loved it."}],
    )  # fmt: skip
    # Accepted and rejected answers to one prompt: a human preference pair.
    out["good"] = SampleFactory(
        project=p, status="accepted", messages=chat("Name a colour.", "Blue.")
    )
    out["bad"] = SampleFactory(
        project=p, status="rejected", messages=chat("Name a colour.", "Dog.")
    )
    out["ai_pair"] = PreferenceSampleFactory(project=p, status="accepted", judge_score=4.5)
    out["cai_pair"] = PreferenceSampleFactory(
        project=p,
        status="accepted",
        extra={"source": "ai_judge:constitutional_ai", "p_chosen": 0.75},
    )
    out["pending"] = SampleFactory(project=p, status="pending")
    # Human work through the review services.
    out["edited"] = SampleFactory(project=p, messages=chat("Spell cat.", "k-a-t"))
    edited = chat("Spell cat.", "c-a-t")
    _review(cast.annotator, "edits", p, out["edited"], decision="accept", messages=edited)
    out["flipped"] = PreferenceSampleFactory(project=p)
    _review(
        cast.annotator, "flip", p, out["flipped"], decision="accept", ranking=["rejected", "chosen"]
    )
    out["tied"] = PreferenceSampleFactory(project=p)
    _review(
        cast.annotator, "tie", p, out["tied"], decision="accept", ranking=[["chosen", "rejected"]]
    )
    for key in ("edited", "flipped", "tied"):
        out[key].refresh_from_db()
    return out
