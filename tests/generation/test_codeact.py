"""CodeAct (#56): code actions in the sandbox, answers checked, recoveries tagged."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.codeact_session import action_of
from generation.runs.models import RunStatus

SUM = "What is the sum of the numbers from 1 to 10?"
STUCK = "How many primes are below 20?"
GUESS, GUESS_AGAIN = "What is 6 times 7?", "What is seven times six?"
_OBS = re.compile(r"^Observation:\n(?P<seen>.*?)\nYou have (?P<turns>\d+) steps", re.DOTALL)


def seeds(bench: Any, *questions: tuple[str, str], name: str = "QA") -> Any:
    lines = "\n".join(json.dumps({"question": q, "answer": a}) for q, a in questions)
    return import_seed_set(bench.owner, bench.project, name=name, data=lines.encode())


def question_of(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"]).rsplit("Task: ", 1)[1].strip()


def seen(body: dict[str, Any]) -> str | None:
    m = _OBS.match(body["messages"][-1]["content"])
    return m["seen"] if m else None


def agent(body: dict[str, Any]) -> str:
    """Misspells a name first and then fixes it; answers only from what the sandbox showed."""
    question, turn = question_of(body), sum(m["role"] == "assistant" for m in body["messages"])
    if question == SUM:
        return [
            "I add them up. <execute>\ntotal = sum(range(1, 11))\nprint(totl)\n</execute>\n"
            "Observation: 55",  # a made-up observation: cut
            "A typo; total is still defined. <execute>total</execute>",
            f"It is {seen(body)}. <solution> {seen(body)} </solution>",
        ][turn]
    if question == STUCK:
        return f"Let me count again. <execute>print({turn})</execute>"
    if question in (GUESS, GUESS_AGAIN):
        return ["<solution> 48 </solution>", "<solution> 42 </solution>"][turn]
    return "<execute>print(6 * 7)</execute>" if turn == 0 else f"<solution>{seen(body)}</solution>"


@pytest.mark.django_db(transaction=True)
def test_an_exception_in_turn_one_fixed_in_turn_two_is_kept_and_tagged_self_corrected(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", agent)
    run = bench.start("codeact", 1, seed_set=seeds(bench, (SUM, "55")))
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = Sample.objects.get(run=run)
    assert sample.kind == "tool_trajectory"
    roles = [m["role"] for m in sample.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert sample.messages[1]["content"].endswith("print(totl)\n</execute>")  # cut
    assert "NameError: name 'totl' is not defined" in sample.messages[2]["content"]
    assert sample.messages[4]["content"].startswith("Observation:\n55\nYou have 3 steps left")
    assert sample.messages[5]["content"] == "It is 55. <solution> 55 </solution>"
    assert sample.extra["tags"] == ["self_corrected"]
    assert sample.extra["metadata"]["self_corrected"] is True
    assert sample.extra["metadata"]["errors"] == 1 and sample.extra["metadata"]["turns"] == 3
    steps = sample.extra["steps"]
    assert [s["error"] for s in steps] == [True, False, False]
    assert [s["action"]["name"] for s in steps] == ["execute_python"] * 2 + ["solution"]
    assert steps[1]["observation"] == "55"  # the kernel kept `total` and showed its value
    assert sample.extra["env"]["verdict"]["success"] is True and sample.extra["gold"] == "55"


@pytest.mark.django_db(transaction=True)
def test_a_trajectory_that_would_need_a_sixth_turn_is_dropped_at_the_cap(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", agent)
    run = bench.start("codeact", 1, seed_set=seeds(bench, (STUCK, "8")))
    assert run.produced == 0 and run.filtered == {"turn_cap": 1}
    assert len(fake_llm.requests) == 5
    assert [seen(r) for r in fake_llm.requests[1:]] == ["0", "1", "2", "3"]


@pytest.mark.django_db(transaction=True)
def test_a_wrong_answer_is_fed_back_and_a_second_wrong_one_ends_the_trajectory(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", agent)
    run = bench.start("codeact", 2, seed_set=seeds(bench, (GUESS, "42"), (GUESS_AGAIN, "41")))
    assert run.produced == 1 and run.filtered == {"wrong_answer": 1}
    sample = Sample.objects.get(run=run)
    assert sample.messages[2]["content"].startswith("Observation:\nYour answer is wrong.")
    assert "1 chances to propose a solution left" in sample.messages[2]["content"]
    assert sample.extra["tags"] == ["self_corrected"]
    assert sample.extra["metadata"]["wrong_answers"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_clean_trajectory_is_untagged_and_dropped_when_only_recoveries_are_kept(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r".", agent)
    clean = ("What is six sevens?", "42")
    run = bench.start("codeact", 1, seed_set=seeds(bench, clean))
    sample = Sample.objects.get(run=run)
    assert sample.extra["tags"] == [] and sample.extra["answer"] == "42"
    again = seeds(bench, clean, name="QA again")
    strict = bench.start("codeact", 1, seed_set=again, params={"only_self_corrected": True})
    assert strict.produced == 0 and strict.filtered == {"not_self_corrected": 1}


def test_the_first_action_of_a_reply_is_taken_and_the_rest_is_cut() -> None:
    run = action_of("Think. <execute>print(1)</execute> <solution>1</solution>")
    assert run.code == "print(1)" and run.answer is None and run.thought == "Think."
    fenced = action_of("Try.\n```python\nprint(2)\n```\nObservation: 2")
    assert fenced.code == "print(2)" and fenced.text == "Try.\n```python\nprint(2)\n```"
    said = action_of("So <solution> 3 </solution> and <execute>x</execute>")
    assert said.answer == "3" and said.code is None
    assert action_of("It is \\boxed{4}.").answer == "4"
    assert action_of("I am not sure.").answer is None
