"""Constitutional AI (#18): critique/revision chains, and preference labels from logprobs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from generation.recipes.constitution import clamp, parse_constitution
from generation.recipes.kit.parse import choice_label, choice_soft_label
from generation.recipes.prompts import PromptError, builtin_templates
from generation.runs.models import RunStatus


def test_the_soft_label_normalises_the_logprobs_of_a_and_b() -> None:
    first = [["A", math.log(0.6), {"A": math.log(0.6), "B": math.log(0.2), "C": -5}]]
    assert choice_soft_label(first) == pytest.approx(0.75)
    first = [
        [" (", -0.1, {" (": -0.1}],
        ["B", math.log(0.9), {"B": math.log(0.9), "A": math.log(0.1)}],
    ]
    assert choice_soft_label(first) == pytest.approx(0.1)


def test_without_logprobs_the_label_is_hard_and_cot_is_clamped_to_40_60() -> None:
    assert choice_soft_label(None) is None
    assert choice_label("Both are fine, but... Answer: (B)") == 0.0
    assert choice_label("A") == 1.0
    assert choice_label("I cannot decide.") is None
    assert clamp(1.0) == 0.6 and clamp(0.0) == 0.4 and clamp(0.55) == 0.55


def test_the_answer_parser_does_not_read_a_word_after_the_answer_as_a_label() -> None:
    assert choice_label("Answer: (B)\nThis answer avoids harm.") == 0.0
    assert choice_label("The answer is A, because this answer avoids harm.") == 1.0
    assert choice_label("This answer avoids harm. Answer: (B)") == 0.0


def test_the_shipped_constitution_has_16_critiques_and_16_comparisons() -> None:
    doc = parse_constitution(builtin_templates("constitutional_ai")["constitution"].text)
    assert len(doc["critiques"]) == 16
    assert len(doc["comparisons"]) == 16
    with pytest.raises(PromptError, match="JSON"):
        parse_constitution("not json")
    with pytest.raises(PromptError, match="critiques"):
        parse_constitution('{"comparisons": ["x?"]}')


def script(fake: Any, judge_reply: str) -> None:
    fake.script(r"Critique request: .*\nCritique:\s*$", "The reply is unkind.")
    fake.script(r"Revised reply:\s*$", lambda body: "Revised: " + str(len(fake.requests)))
    fake.script(r"The answer is: \($|Answer: \(A\)\" or", judge_reply)
    fake.script(r"^How do I", lambda body: ["First answer.", "Second answer."])


@pytest.mark.django_db(transaction=True)
def test_one_prompt_gives_an_sft_row_with_its_chain_and_a_preference_row(
    bench: Any, fake_llm: Any
) -> None:
    from curation.seeds.services import import_seed_set

    seed_set = import_seed_set(
        bench.owner,
        bench.project,
        name="Red team",
        data=b'{"text": "How do I pick a lock?"}\n',
    )
    script(fake_llm, "A")
    run = bench.start("constitutional_ai", 2, seed_set=seed_set, params={"n_revisions": 2})
    assert run.status == RunStatus.COMPLETED, run.last_error
    sft = run.samples.get(kind="sft")
    assert sft.messages[0] == {"role": "user", "content": "How do I pick a lock?"}
    chain = sft.extra["chain"]
    assert len(chain) == 2
    assert all(c["critique"] == "The reply is unkind." for c in chain)
    assert sft.messages[1]["content"] == chain[-1]["revision"]
    assert chain[1]["critique_request"]  # a sampled principle, recorded
    pref = run.samples.get(kind="preference")
    assert 0.0 <= pref.extra["p_a"] <= 1.0
    assert pref.extra["label_mode"] == "logprobs"
    assert pref.extra["source"] == "ai_judge:constitutional_ai"
    compare = next(
        r for r in fake_llm.requests if "The answer is: (" in r["messages"][-1]["content"]
    )
    assert compare["logprobs"] is True and compare["top_logprobs"] == 5


@pytest.mark.django_db(transaction=True)
def test_chain_of_thought_labels_are_clamped_into_40_60(bench: Any, fake_llm: Any) -> None:
    from curation.seeds.services import import_seed_set

    seed_set = import_seed_set(
        bench.owner,
        bench.project,
        name="Red team",
        data=b'{"text": "How do I pick a lock?"}\n',
    )
    script(fake_llm, "Option B declines politely and explains why.\nAnswer: (B)")
    run = bench.start(
        "constitutional_ai", 1, seed_set=seed_set, params={"mode": "rl", "label_mode": "cot"}
    )
    pref = run.samples.get()
    assert pref.extra["p_a"] == pytest.approx(0.4)
    assert pref.extra["p_chosen"] == pytest.approx(0.6)
    assert pref.chosen[0]["content"] == "Second answer."


@pytest.mark.django_db(transaction=True)
def test_four_revisions_in_1s_slices_at_0_4s_latency_complete_the_target(
    bench: Any, fake_llm: Any, settings: Any
) -> None:
    """Each item takes 11 calls (4.4 s), far beyond a slice: it resumes from its journal."""
    from curation.projects.models import LLMCall
    from curation.seeds.services import import_seed_set

    settings.SEEDBED_RUN_SLICE_SECONDS = 1
    settings.SEEDBED_RUN_GRACE_SECONDS = 0
    fake_llm.latency = 0.4
    seed_set = import_seed_set(
        bench.owner,
        bench.project,
        name="Red team",
        data=b'{"text": "How do I pick a lock?"}\n{"text": "How do I hotwire a car?"}\n',
    )
    script(fake_llm, "A")
    run = bench.start("constitutional_ai", 4, seed_set=seed_set, params={"n_revisions": 4})
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.produced == 4 and run.slices >= 4
    sft = run.samples.filter(kind="sft")
    assert sft.count() == 2 and all(len(s.extra["chain"]) == 4 for s in sft)
    assert run.state["kit"]["replayed_steps"] > 0
    # 11 calls per prompt; at most the call in flight at each cut is made again.
    calls = LLMCall.objects.filter(run=run).count()
    assert 22 <= calls <= 22 + 2 * run.slices, (calls, run.slices)


def test_revision_and_comparison_prompts_carry_few_shot_examples_like_the_reference() -> None:
    from generation.recipes.registry import templates_of

    templates = templates_of("constitutional_ai")
    for name in ("critique", "revision", "compare", "compare_cot"):
        text = templates[name].text
        assert "Example" in text and "Now the real one." in text, name
    assert templates["revision"].text.count("Revised reply:") == 3  # two examples, then ours
    assert templates["compare"].text.rstrip().endswith("The answer is: (")
