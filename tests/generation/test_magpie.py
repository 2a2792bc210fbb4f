"""Magpie (B1): instructions from a chat template's pre-query on /v1/completions."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from curation.projects.models import LLMCall
from generation.recipes.magpie_templates import assistant_like, pre_query, read_instruction
from generation.runs.models import RunItem, RunStatus
from generation.runs.services import ServiceError
from tests.generation.cases import words
from tests.generation.cases.magpie import PRE_QUERY_END

QWEN = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n<|im_start|>user\n"
)
CHAT_ONLY = "Magpie needs /v1/completions (the pre-query trick); endpoint 'fake' is chat-only"


def completions(fake: Any) -> list[dict[str, Any]]:
    return [r for r in fake.requests if "prompt" in r]


def chats(fake: Any) -> list[dict[str, Any]]:
    return [r for r in fake.requests if "messages" in r]


def without_trim(filtered: dict[str, int]) -> dict[str, int]:
    """The run's filter counts without items that finished after the target was met."""
    return {k: v for k, v in filtered.items() if k != "over_target"}


def instructions_in_order(bench: Any, fake: Any, *texts: str) -> None:
    """The pre-query gets these instructions, then distinct ones, one request at a time (so
    items see them in this order)."""
    bench.endpoint.max_concurrency = 1
    bench.endpoint.save(update_fields=["max_concurrency"])
    it = itertools.chain(texts, (f"Name {words(n, 6)} in one list." for n in range(99)))
    fake.script(PRE_QUERY_END, lambda body: next(it))


@pytest.mark.django_db(transaction=True)
def test_the_pre_query_is_sent_byte_for_byte_and_its_continuation_is_the_instruction(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        r"<\|im_start\|>user\n$",
        "Write a haiku about autumn leaves.<|im_end|>\n<|im_start|>assistant\nLeaves fall",
    )
    fake_llm.script(r"^Write a haiku", "Red leaves drift and fall.")
    run = bench.start("magpie", 1)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (asked,) = completions(fake_llm)
    assert asked["prompt"] == QWEN
    assert asked["stop"] == ["<|im_end|>", "<|im_start|>", "<|endoftext|>", "\n"]
    assert asked["temperature"] == 1.0 and asked["top_p"] == 1.0 and asked["max_tokens"] == 512
    sample = run.samples.get()
    assert sample.messages == [
        {"role": "user", "content": "Write a haiku about autumn leaves."},
        {"role": "assistant", "content": "Red leaves drift and fall."},
    ]
    (answered,) = chats(fake_llm)
    assert answered["messages"] == [sample.messages[0]] and answered["temperature"] == 0.0
    assert sample.extra["metadata"]["pre_query"] == QWEN
    assert sample.extra["metadata"]["template"] == "qwen2.5"


@pytest.mark.django_db(transaction=True)
def test_a_llama_3_pre_query_carries_the_system_prompt_and_the_response_sees_it_too(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"user<\|end_header_id\|>\n\n$", "What is the derivative of x squared?")
    fake_llm.script(r"^What is the derivative", "2x.")
    params = {"template": "llama3", "system": "You are a maths tutor."}
    run = bench.start("magpie", 1, params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    (asked,) = completions(fake_llm)
    assert asked["prompt"] == (
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a maths tutor.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
    )
    assert asked["stop"][0] == "<|eot_id|>"
    (answered,) = chats(fake_llm)
    assert answered["messages"][0] == {"role": "system", "content": "You are a maths tutor."}
    assert run.samples.get().messages[0]["content"] == "What is the derivative of x squared?"


@pytest.mark.django_db(transaction=True)
def test_a_custom_pre_query_is_sent_as_written_with_its_own_stop(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r"### Instruction:\n$", "Sort these numbers: 3, 1, 2.\n### Response:\n1, 2, 3")
    fake_llm.script(r"^Sort these", "1, 2, 3")
    params = {"template": "custom", "pre_query": "### Instruction:\n", "stop": ["### Response:"]}
    run = bench.start("magpie", 1, params={**params, "single_line": False})
    assert run.status == RunStatus.COMPLETED, run.last_error
    (asked,) = completions(fake_llm)
    assert asked["prompt"] == "### Instruction:\n" and asked["stop"] == ["### Response:"]
    assert run.samples.get().messages[0]["content"] == "Sort these numbers: 3, 1, 2."


@pytest.mark.django_db(transaction=True)
def test_a_chat_only_endpoint_known_from_test_connection_is_refused_before_any_call(
    bench: Any, fake_llm: Any
) -> None:
    bench.endpoint.capabilities = {"chat": True, "completions": False}
    bench.endpoint.save(update_fields=["capabilities"])
    with pytest.raises(ServiceError, match=r"needs COMP .*/v1/completions.* 'fake' does not"):
        bench.start("magpie", 5)
    assert fake_llm.requests == [] and not RunItem.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_chat_only_endpoint_found_at_the_first_item_fails_the_run_with_the_reason(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.disable("completions")
    run = bench.start("magpie", 2)
    assert run.status == RunStatus.FAILED
    assert CHAT_ONLY in run.last_error
    assert chats(fake_llm) == []  # nothing was answered
    failed = RunItem.objects.filter(run=run, outcome="failed")
    # The first refusal ends the run: only the items already in flight fail, one call each.
    assert 1 <= failed.count() <= bench.endpoint.max_concurrency
    assert all(CHAT_ONLY in item.detail for item in failed)
    assert LLMCall.objects.filter(run=run).count() <= failed.count()
    assert "in a row" not in run.last_error


@pytest.mark.django_db(transaction=True)
def test_exact_and_near_copies_of_earlier_instructions_are_dropped(
    bench: Any, fake_llm: Any
) -> None:
    night, copper = "Write a poem about the sea at night.", "List three uses of copper wire."
    dawn = "Write a poem about the sea at dawn."  # ROUGE-L 0.875 against night
    instructions_in_order(bench, fake_llm, night, night, dawn, copper)
    fake_llm.script(r"^(?:Write|List|Name)", "An answer.")
    run = bench.start("magpie", 2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert without_trim(run.filtered) == {"duplicate": 1, "near_duplicate": 1}
    assert sorted(s.messages[0]["content"] for s in run.samples.all()) == [copper, night]


@pytest.mark.django_db(transaction=True)
def test_short_and_assistant_like_instructions_are_dropped(bench: Any, fake_llm: Any) -> None:
    greeting = "Hello! How can I help you today?"
    instructions_in_order(bench, fake_llm, "Hi there", "Sure! Here is a poem.", greeting)
    fake_llm.script(r"^Name", "An answer.")
    run = bench.start("magpie", 1)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert without_trim(run.filtered) == {"too_short": 1, "assistant_like": 2}
    assert run.samples.get().messages[0]["content"].startswith("Name ")


@pytest.mark.django_db(transaction=True)
def test_the_quality_judge_drops_poor_instructions_and_notes_the_difficulty(
    bench: Any, fake_llm: Any
) -> None:
    instructions_in_order(bench, fake_llm, "Do the thing with the stuff now.")
    fake_llm.script(r"^Rate a query.*the stuff", "Vague.\nDifficulty: easy\nScore: 2")
    fake_llm.script(r"^Rate a query", "Clear.\nDifficulty: hard\nScore: 4")
    fake_llm.script(r"^Name", "An answer.")
    run = bench.start("magpie", 1, params={"quality_judge": True})
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert without_trim(run.filtered) == {"low_quality": 1}
    sample = run.samples.get()
    assert sample.extra["metadata"]["quality"] == 4.0
    assert sample.extra["metadata"]["difficulty"] == "hard"
    assert sample.extra["tags"] == ["hard"] and sample.judge_score == 4.0
    assert sample.judgements.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_custom_template_without_text_and_a_system_prompt_gemma_lacks_are_refused(
    bench: Any,
) -> None:
    with pytest.raises(ServiceError, match="pre-query text"):
        bench.start("magpie", 1, params={"template": "custom"})
    with pytest.raises(ServiceError, match="no system turn"):
        bench.start("magpie", 1, params={"template": "gemma", "system": "Be brief."})


def test_the_instruction_is_cut_where_the_turn_ends_or_a_role_line_leaks() -> None:
    ends = ["<|im_end|>", "<|im_start|>", "\n"]
    assert read_instruction("Plan a trip.<|im_end|>assistant", ends, True) == "Plan a trip."
    assert read_instruction(" Plan a trip.\nassistant\nSure", [], False) == "Plan a trip."
    assert read_instruction("Fix this:\n\nx = 1 +", [], False) == "Fix this:\n\nx = 1 +"
    assert read_instruction("Fix this:\n\nx = 1 +", [], True) == "Fix this:"
    assert pre_query("chatml") == "<|im_start|>user\n"
    assert pre_query("gemma") == "<start_of_turn>user\n"


def test_assistant_openings_and_offers_of_help_are_not_requests() -> None:
    for reply in ("Sure, here is the code.", "Certainly! The capital is Paris.",
                  "I'm sorry, but I can't do that.", "Hello! How can I assist you today?",
                  "As an AI, I have no feelings."):  # fmt: skip
        assert assistant_like(reply), reply
    for request in ("Can you help me plan a trip to Rome?", "Here in Oslo, what should I wear?",
                    "Write an email to my assistant about the meeting."):  # fmt: skip
        assert not assistant_like(request), request
