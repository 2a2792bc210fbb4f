"""Self-Instruct (#24): the row's acceptance test, plus its filters one by one."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

import pytest

from curation.seeds.services import import_seed_set
from generation.recipes.self_instruct import Params
from generation.recipes.self_instruct_filters import (
    Instance,
    instance_filter,
    instruction_filter,
    parse_instances,
    parse_tasks,
)
from generation.runs.models import RunItem, RunStatus
from tests.generation.conformance_cases import WORDS

P = Params()


def prompt_of(body: dict[str, Any]) -> str:
    """The prompt of a chat or a plain completion request."""
    return body["prompt"] if "prompt" in body else body["messages"][-1]["content"]


def task_lists(first: int, stem: str) -> Any:
    """A scripted generate reply: 3 lexically distinct tasks per call (ROUGE-L lets them in)."""
    calls = Counter[str]()

    def generate(body: dict[str, Any]) -> str:
        calls["n"] += 1
        rng = random.Random(calls["n"])
        return "\n".join(
            f"{first + i}. {stem} " + " ".join(rng.sample(WORDS, 7)) + "." for i in range(3)
        )

    return generate


def test_instruction_rules_follow_the_paper() -> None:
    def rule(text: str) -> str | None:
        return instruction_filter(text, P.min_words, P.max_words)

    assert rule("Draw a map of Paris") == "keyword"
    assert rule("Plot the data as a bar chart") == "keyword"
    assert rule("Write a program that sorts numbers.") == "write_a_program"
    assert rule("Sort these.") == "length"  # 2 words ≤ 3
    assert rule("word " * 151) == "length"
    assert rule("«Translate» the sentence into French.") == "non_ascii_start"
    assert rule("- Translate the sentence into French.") == "punctuation_start"
    assert rule("Translate the sentence into French.") is None


def test_a_continued_list_is_parsed_from_the_next_number_on() -> None:
    text = "Write a limerick\n10. Name a river\n11) Find the verb.\nnot a task\n1. Sort these"
    assert parse_tasks(text, 9, ["Sort these"], truncated=False) == [
        "Write a limerick",
        "Name a river",
        "Find the verb.",
    ]


def test_a_reply_cut_off_at_max_tokens_loses_its_last_task_and_instance() -> None:
    text = "Write a limerick\n10. Name a river\n11. Find the ver"
    assert parse_tasks(text, 9, [], truncated=True) == ["Write a limerick", "Name a river"]
    text = "Example 1\nInput: 2, 3\nOutput: 5\nExample 2\nInput: 4, 4\nOutput: 8 because"
    assert parse_instances(text, output_first=False, truncated=True) == [Instance("2, 3", "5")]


def test_instances_parse_input_first_and_output_first() -> None:
    text = "Example 1\nInput: 2, 3\nOutput: 5\nExample 2\nInput: <noinput>\nOutput: 0"
    assert parse_instances(text, False, False) == [Instance("2, 3", "5"), Instance("", "0")]
    text = "Class label: even\nInput: 4\nClass label: odd\nInput: 7"
    assert parse_instances(text, True, False) == [Instance("4", "even"), Instance("7", "odd")]


def test_classification_instances_keep_the_papers_field_names_as_their_input() -> None:
    text = "Class label: Positive\nSentence: I loved it.\nClass label: Negative\nTweet: meh"
    assert parse_instances(text, True, False) == [
        Instance("Sentence: I loved it.", "Positive"),
        Instance("Tweet: meh", "Negative"),
    ]


def test_instance_rules_drop_bad_instances_and_conflicts_drop_the_task() -> None:
    kept, reason = instance_filter(
        [
            Instance("a", "a"),
            Instance("b", ""),
            Instance("c:", "x"),
            Instance("d", "y:"),
            Instance("e", "ok"),
            Instance("e", "ok"),
        ]
    )
    assert kept == [Instance("e", "ok")] and reason is None
    kept, reason = instance_filter([Instance("4", "even"), Instance("4", "odd")])
    assert kept == [] and reason == "instance_conflict"


def test_empty_inputs_with_different_outputs_are_not_a_conflict() -> None:
    kept, reason = instance_filter([Instance("", "A haiku."), Instance("", "Another haiku.")])
    assert reason is None and kept == [Instance("", "A haiku."), Instance("", "Another haiku.")]


def test_invalid_instances_are_dropped_before_the_conflict_check() -> None:
    # The second instance is an incomplete generation (ends with ':'), not a real conflict.
    kept, reason = instance_filter([Instance("4", "even"), Instance("4", "odd:")])
    assert reason is None and kept == [Instance("4", "even")]


GENERATED = (
    "Write a poem about dogs\n"
    "3. Draw a map of Paris\n"
    "4. Explain how photosynthesis turns sunlight into chemical energy.\n"
    "5. Decide whether each given number is even or odd."
)


def script(fake: Any) -> None:
    fake.script(r"Come up with a series of new tasks", GENERATED)
    fake.script(
        r"Is it classification\?\s*$",
        lambda body: "Yes" if "even or odd" in prompt_of(body) else "No",
    )
    fake.script(
        r"list its possible class labels", "Class label: even\nInput: 4\nClass label: odd\nInput: 4"
    )
    fake.script(
        r"Come up with examples for the task below",
        "Example 1\nInput: <noinput>\nOutput: Plants capture light and store it as sugar.",
    )


@pytest.mark.django_db(transaction=True)
def test_the_methods_row_acceptance_case(bench: Any, fake_llm: Any) -> None:
    # Pool ["Write a poem about cats"].
    seed_set = import_seed_set(
        bench.owner,
        bench.project,
        name="Cats",
        data=b'{"instruction": "Write a poem about cats", "input": "", "output": "Soft paws."}\n',
    )
    script(fake_llm)
    # Target 2: the valid task gives one sample, so the even/odd task is worked too. The
    # model then only repeats itself: the run stops as futile after 20 barren items.
    run = bench.start("self_instruct", 2, seed_set=seed_set, futility_limit=20)
    assert run.status == RunStatus.FAILED
    assert "futile" in run.last_error and "no_new_tasks" in run.last_error
    # "Write a poem about dogs": ROUGE-L 0.8 > 0.7 against the pool.
    assert run.filtered["rouge_l"] >= 1
    # "Draw a map of Paris": blacklist.
    assert run.filtered["keyword"] >= 1
    # The valid task is accepted with its most-similar list.
    assert run.produced == 1, (run.filtered, run.failed, list(run.items.values("reason", "detail")))
    sample = run.samples.get()
    assert sample.extra["instruction"].startswith("Explain how photosynthesis")
    assert sample.messages[1]["content"] == "Plants capture light and store it as sugar."
    similar = dict((t, s) for t, s in sample.extra["most_similar"])
    assert "Write a poem about cats" in similar
    assert sample.extra["is_classification"] is False
    assert sample.seed_ids == [seed_set.seeds.get().pk]
    # The even/odd task had two instances with one input and two outputs: it lost them all.
    lost = RunItem.objects.get(run=run, reason="instance_conflict")
    assert "even or odd" in lost.detail
    # Generation requests use the paper's sampling settings.
    gen = next(r for r in fake_llm.requests if "series of new tasks" in prompt_of(r))
    assert (gen["temperature"], gen["top_p"], gen["presence_penalty"]) == (0.7, 0.5, 2.0)


@pytest.mark.django_db(transaction=True)
def test_in_context_examples_are_six_human_and_two_machine_once_machine_ones_exist(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        r"Come up with a series of new tasks", task_lists(9, "Describe the unusual festival")
    )
    fake_llm.script(r"Is it classification\?\s*$", "No")
    fake_llm.script(
        r"Come up with examples for the task below",
        lambda body: f"Example 1\nInput: <noinput>\nOutput: Festival {len(fake_llm.requests)}",
    )
    lines = "\n".join(
        f'{{"instruction": "Human seed task number {i} about gardening and soil care.", '
        f'"input": "", "output": "ok"}}'
        for i in range(10)
    )
    seed_set = import_seed_set(bench.owner, bench.project, name="Ten", data=lines.encode())
    # 40 samples need more lists than one round of slots: later lists see machine tasks.
    run = bench.start("self_instruct", 40, seed_set=seed_set)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.produced == 40, (run.filtered, run.last_error, run.failed)
    prompts = [prompt_of(r) for r in fake_llm.requests if "series of new tasks" in prompt_of(r)]
    human = [p.count("Human seed task") for p in prompts]
    machine = [p.count("unusual festival") for p in prompts]
    assert human[0] == 8 and machine[0] == 0  # all human while the pool has no machine tasks
    assert any(h == 6 and m == 2 for h, m in zip(human, machine, strict=True))


@pytest.mark.django_db(transaction=True)
def test_without_a_completions_endpoint_it_falls_back_to_chat_and_remembers(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.support_completions = False
    seed_set = import_seed_set(
        bench.owner,
        bench.project,
        name="Cats",
        data=b'{"instruction": "Write a poem about cats", "input": "", "output": "Soft paws."}\n',
    )
    script(fake_llm)
    run = bench.start("self_instruct", 1, seed_set=seed_set)
    assert run.status == RunStatus.COMPLETED, [
        (i.work_key, i.outcome, i.reason, i.detail[:200])
        for i in run.items.exclude(reason="no_new_tasks")
    ]
    assert run.produced == 1
    assert run.state["kit"]["chat_only"] == [f"e{bench.endpoint.pk}"]
    assert any("messages" in r for r in fake_llm.requests)


@pytest.mark.django_db(transaction=True)
def test_seed_whitespace_is_normalised_and_five_of_seven_instances_are_taken_at_random(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        r"Come up with a series of new tasks", task_lists(3, "Describe the rare custom")
    )
    fake_llm.script(r"Is it classification\?\s*$", "No")
    fake_llm.script(
        r"Come up with examples for the task below",
        lambda body: "\n".join(
            f"Example {n}\nInput: item {n} of {len(fake_llm.requests)}\nOutput: answer {n}"
            for n in range(1, 8)
        ),
    )
    seed_set = import_seed_set(
        bench.owner,
        bench.project,
        name="Spaced",
        data=b'{"instruction": "Write   a poem\\n about  cats", "input": "", "output": "x"}\n',
    )
    run = bench.start("self_instruct", 15, seed_set=seed_set)
    assert run.status == RunStatus.COMPLETED, run.last_error
    first = next(prompt_of(r) for r in fake_llm.requests if "series of new tasks" in prompt_of(r))
    assert "1. Write a poem about cats\n" in first
    picked: dict[str, list[int]] = {}
    for sample in run.samples.all():
        n = int(sample.extra["input"].split()[1])
        picked.setdefault(sample.extra["instruction"], []).append(n)
    assert all(len(v) == 5 for v in picked.values())
    assert any(sorted(v) != [1, 2, 3, 4, 5] for v in picked.values())


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_that_answers_nonsense_fails_the_run_within_the_futility_bound(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"Come up with a series of new tasks", task_lists(9, "Describe the odd ritual"))
    fake_llm.script(r"Is it classification\?\s*$", "No")
    fake_llm.script(r"Come up with examples for the task below", "lorem ipsum dolor sit amet")
    run = bench.start("self_instruct", 5)  # default bound: max(200, 5 x 5) = 200 items
    assert run.status == RunStatus.FAILED
    streak = int(re.search(r"(\d+) finished items in a row", run.last_error).group(1))
    assert 200 <= streak <= 200 + 2 * bench.endpoint.max_concurrency
    assert "no_valid_instances" in run.last_error
    finished = RunItem.objects.filter(run=run, outcome__in=["filtered", "failed"]).count()
    assert 200 <= finished <= 200 + 2 * bench.endpoint.max_concurrency
    example = RunItem.objects.filter(run=run, reason="no_valid_instances").first()
    assert example is not None and example.raw_output == "lorem ipsum dolor sit amet"
    assert run.produced == 0
    assert run.state["kit"]["futile"] is True
    # The run page says why, with the model's own output as an example.
    from django.test import Client

    client = Client()
    client.force_login(bench.owner)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "no_valid_instances" in page and "lorem ipsum dolor sit amet" in page
    assert 'href="#filtered"' in page
