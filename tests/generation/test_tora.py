"""ToRA (#51): rationale, Python run in the sandbox, its output spliced in, checked vs gold."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.tora_trajectory import clip, python_block
from generation.runs.models import RunItem, RunStatus

SUM = "What is the sum of the whole numbers from 1 to 100?"
RAISES = "What is 7 divided by the number of empty boxes?"
MISSED = "What is six times seven?"
LOOPS = "How many primes are below 20?"
_OUTPUT = re.compile(r"^```output\n(?P<out>.*)\n```$", re.DOTALL)


def seeds(bench: Any, *questions: tuple[str, str]) -> Any:
    lines = "\n".join(json.dumps({"question": q, "answer": a}) for q, a in questions)
    return import_seed_set(bench.owner, bench.project, name="QA", data=lines.encode())


def question_of(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"]).rsplit("Question: ", 1)[1].split("\n")[0]


def last_output(body: dict[str, Any]) -> str | None:
    m = _OUTPUT.match(body["messages"][-1]["content"])
    return m["out"] if m else None


def teacher(body: dict[str, Any]) -> Any:
    """Writes code for each problem and boxes what the sandbox printed, never a number of its
    own: a right answer proves the output was run and spliced in."""
    question, out, n = question_of(body), last_output(body), body.get("n") or 1
    rounds = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if question == SUM:
        if rounds == 0:
            return "I add them up.\n```python\nprint(sum(range(1, 101)))\n```\nSo it is 42."
        if rounds == 1:
            return "Check with Gauss's formula.\n```python\nprint(100 * 101 // 2)\n```"
        return f"Both give {out}. The sum is \\boxed{{{out}}}."
    if question == RAISES:
        return ["There are none.\n```python\nprint(7 / 0)\n```"] * n
    if question == LOOPS:
        return "Count again.\n```python\nprint(8)\n```"
    if out is not None:
        return f"So it is \\boxed{{{out}}}."
    if body["temperature"] == 0:
        return "Six sevens make \\boxed{48}."
    codes = ["print(6 * 7)", "print(6 * 7)", "print(seven * 6)", "print(42)"]
    return [f"Multiply.\n```python\n{c}\n```" for c in codes][:n]


def requests_for(fake: Any, question: str) -> list[dict[str, Any]]:
    return [r for r in fake.requests if question_of(r) == question]


@pytest.mark.django_db(transaction=True)
def test_sum_of_1_to_100_runs_each_block_splices_its_output_and_boxes_the_gold_5050(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", teacher)
    run = bench.start("tora", 1, seed_set=seeds(bench, (SUM, "5050")))
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.messages[0] == {"role": "user", "content": SUM}
    reply = sample.messages[1]["content"]
    assert reply == (
        "I add them up.\n```python\nprint(sum(range(1, 101)))\n```\n```output\n5050\n```\n"
        "Check with Gauss's formula.\n```python\nprint(100 * 101 // 2)\n```\n"
        "```output\n5050\n```\nBoth give 5050. The sum is \\boxed{5050}."
    )  # the made-up "So it is 42." after the first block is cut
    assert sample.extra["answer"] == "5050" == sample.extra["gold"]
    assert [s["observation"] for s in sample.extra["steps"]] == ["5050", "5050"]
    assert sample.extra["steps"][1]["action"]["arguments"]["code"] == "print(100 * 101 // 2)"
    assert sample.extra["tags"] == ["greedy"] and sample.extra["metadata"]["rounds"] == 2
    sent = requests_for(fake_llm, SUM)
    assert [last_output(r) for r in sent] == [None, "5050", "5050"]
    assert all(r["temperature"] == 0 and "```output" in r["stop"] for r in sent)


@pytest.mark.django_db(transaction=True)
def test_a_trajectory_whose_code_raises_is_dropped_and_its_error_never_reaches_the_model(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", teacher)
    seed_set = seeds(bench, (SUM, "5050"), (RAISES, "7"))
    run = bench.start("tora", 2, seed_set=seed_set, params={"samples": 3})
    assert run.produced == 1 and run.filtered == {"code_raised": 1}
    item = RunItem.objects.get(run=run, reason="code_raised")
    assert "ZeroDivisionError" in item.detail
    sent = requests_for(fake_llm, RAISES)
    assert [r.get("n") or 1 for r in sent] == [1, 3]  # the greedy one, then three samples
    assert all(last_output(r) is None for r in sent)


@pytest.mark.django_db(transaction=True)
def test_a_missed_problem_is_sampled_and_its_distinct_correct_trajectories_are_kept(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", teacher)
    run = bench.start("tora", 4, seed_set=seeds(bench, (MISSED, "42")), params={"samples": 4})
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run).order_by("work_key"))
    codes = [s.extra["steps"][0]["action"]["arguments"]["code"] for s in samples]
    assert codes == ["print(6 * 7)", "print(42)"]  # the copy and the NameError are gone
    for s in samples:
        assert s.messages[1]["content"].endswith("```output\n42\n```\nSo it is \\boxed{42}.")
        assert s.extra["tags"] == ["sampled"] and s.step == "sample"
        assert s.extra["metadata"]["failures"] == {"wrong_answer": 1, "code_raised": 1}
        assert s.extra["trajectory_id"] == samples[0].extra["trajectory_id"]
    sampled = [r for r in requests_for(fake_llm, MISSED) if r["temperature"] > 0]
    assert sampled[0]["n"] == 4 and sampled[0]["top_p"] == 0.95
    assert len(sampled) == 1 + 3  # one continuation per trajectory that ran


@pytest.mark.django_db(transaction=True)
def test_a_trajectory_still_writing_code_after_the_round_cap_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", teacher)
    params = {"samples": 0, "max_rounds": 2}
    run = bench.start("tora", 1, seed_set=seeds(bench, (LOOPS, "8")), params=params)
    assert run.produced == 0 and run.filtered == {"round_cap": 1}
    assert [last_output(r) for r in requests_for(fake_llm, LOOPS)] == [None, "8", "8"]


def test_a_reply_is_cut_after_its_first_python_block_and_an_open_block_is_closed() -> None:
    head, code = python_block("Go.\n```python\nx = 1\nprint(x)\n```\n```output\n9\n```")
    assert head == "Go.\n```python\nx = 1\nprint(x)\n```" and code == "x = 1\nprint(x)"
    assert python_block("Go.\n```py\nprint(2)") == ("Go.\n```py\nprint(2)\n```", "print(2)")
    assert python_block("So \\boxed{3}.") == ("So \\boxed{3}.", None)
    assert clip("a" * 60 + "b" * 60, 100) == "a" * 50 + "..." + "b" * 50
