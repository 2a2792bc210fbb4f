"""STaR (#1): greedy rationales checked against gold; misses rationalized with a hidden hint."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.prompts import PromptError
from generation.recipes.star import STaR, rationale_of
from generation.recipes.star_exemplars import reply_of
from generation.runs.models import RunItem, RunStatus

QUESTIONS = [(f"What is {i} plus {i}?", str(2 * i)) for i in range(1, 11)]
WRONG = {"What is 3 plus 3?", "What is 6 plus 6?", "What is 9 plus 9?"}  # first try misses
STUBBORN = "What is 9 plus 9?"  # misses even with the hint
_LAST_Q = re.compile(r"Q: (?P<q>[^\n]*?)(?: \(Hint: the answer is (?P<hint>[^)]*)\.\))?\nA:\s*$")


def qa_seeds(bench: Any, rationales: int = 2) -> Any:
    lines = [
        json.dumps({"question": q, "answer": a, "rationale": f"{q[8:-1]} makes {a}."})
        if i < rationales
        else json.dumps({"question": q, "answer": a})
        for i, (q, a) in enumerate(QUESTIONS)
    ]
    return import_seed_set(bench.owner, bench.project, name="QA", data="\n".join(lines).encode())


def solver(body: dict[str, Any]) -> str:
    """Right on seven questions; on WRONG right only with the hint (but never on STUBBORN)."""
    m = _LAST_Q.search(body["messages"][-1]["content"])
    assert m, body["messages"][-1]["content"][-200:]
    question, hint = m["q"], m["hint"]
    gold = dict(QUESTIONS)[question]
    if question in WRONG and (hint is None or question == STUBBORN):
        return f"Adding gives {int(gold) + 1}.\nThe answer is {int(gold) + 1}."
    return f"{question[8:-1]} is {gold}.\nThe answer is {gold}.\nQ: a question it ran on into"


def script(fake: Any, reply: Any = solver) -> None:
    fake.script(r"\nA:\s*$", reply)


@pytest.mark.django_db(transaction=True)
def test_ten_questions_three_missed_give_seven_direct_and_at_most_three_rationalized_rows(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = bench.start("star", 10, seed_set=qa_seeds(bench))
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    direct = [s for s in samples if s.extra["rationalized"] is False]
    rationalized = [s for s in samples if s.extra["rationalized"] is True]
    assert len(direct) == 7 and len(rationalized) == 2
    assert {s.messages[0]["content"] for s in rationalized} == WRONG - {STUBBORN}
    assert run.filtered == {"rationalization_missed": 1}
    for s in samples:
        question, reply = s.messages[0]["content"], s.messages[1]["content"]
        gold = dict(QUESTIONS)[question]
        assert s.extra["gold"] == gold and s.extra["answer"] == gold
        assert reply.endswith(f"The answer is {gold}.")  # the run-on "Q: …" is cut
        assert s.extra["rationale"] == f"{question[8:-1]} is {gold}."
        assert "hint" not in json.dumps(s.messages).lower()
        assert s.messages == [
            {"role": "user", "content": question},
            {"role": "assistant", "content": reply},
        ]
        assert s.step == ("rationalize" if s.extra["rationalized"] else "answer")
    # The hint went to the model, greedy, for the three misses only.
    hinted = [
        r
        for r in fake_llm.requests
        if "(Hint: the answer is" in r["messages"][-1]["content"].rsplit("\n\n", 1)[-1]
    ]
    assert len(hinted) == 3
    assert all(r["temperature"] == 0.0 for r in fake_llm.requests)


@pytest.mark.django_db(transaction=True)
def test_exemplars_are_the_seeds_rationales_but_never_the_items_own(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = bench.start("star", 10, seed_set=qa_seeds(bench, rationales=2), params={"exemplars": 3})
    assert run.status == RunStatus.COMPLETED, run.last_error
    prompts = {
        _LAST_Q.search(r["messages"][-1]["content"])["q"]: r["messages"][-1]["content"]
        for r in fake_llm.requests
    }
    first, second = QUESTIONS[0][0], QUESTIONS[1][0]
    assert "1 plus 1 makes 2." not in prompts[first] and "2 plus 2 makes 4." in prompts[first]
    assert "1 plus 1 makes 2." in prompts[QUESTIONS[5][0]]
    assert "2 plus 2 makes 4." in prompts[QUESTIONS[5][0]]
    assert prompts[QUESTIONS[5][0]].count("\nA: ") == 3  # two seeds + one built-in
    assert "sheep" in prompts[second]  # topped up from the built-in exemplars


@pytest.mark.django_db(transaction=True)
def test_without_rationalization_a_miss_is_dropped(bench: Any, fake_llm: Any) -> None:
    script(fake_llm)
    run = bench.start("star", 10, seed_set=qa_seeds(bench), params={"rationalize": False})
    assert run.produced == 7
    assert run.filtered == {"wrong_answer": 3}
    assert not any("Hint" in r["messages"][-1]["content"] for r in fake_llm.requests)


@pytest.mark.django_db(transaction=True)
def test_a_rationalization_that_mentions_the_hint_is_dropped(bench: Any, fake_llm: Any) -> None:
    def leaky(body: dict[str, Any]) -> str:
        if "(Hint: the answer is" in body["messages"][-1]["content"].rsplit("Q: ", 1)[-1]:
            return "As the hint says, it is 6.\nThe answer is 6."
        return "It is 7.\nThe answer is 7."

    script(fake_llm, leaky)
    run = bench.start("star", 10, seed_set=qa_seeds(bench))
    assert run.produced == 0
    assert run.filtered == {"mentions_hint": 1, "rationalization_missed": 9}
    item = RunItem.objects.get(run=run, reason="mentions_hint")
    assert "hint says" in item.raw_output


def test_the_reply_stops_at_a_run_on_question_and_the_rationale_precedes_the_answer() -> None:
    assert reply_of("It is 4.\nThe answer is 4.\n\nQ: next?\nA: 5") == "It is 4.\nThe answer is 4."
    assert reply_of("A: It is 4.\nThe answer is 4.") == "It is 4.\nThe answer is 4."
    assert rationale_of("2 + 2 = 4.\nThe answer is 4.") == "2 + 2 = 4."
    assert rationale_of("\\boxed{4}") == "\\boxed{4}"


def test_an_exemplars_override_must_be_json_lines_with_all_three_fields() -> None:
    STaR.validate_prompt("exemplars", '{"question": "q", "rationale": "r", "answer": "a"}')
    with pytest.raises(PromptError, match="line 1"):
        STaR.validate_prompt("exemplars", '{"question": "q", "answer": "a"}')
    with pytest.raises(PromptError, match="no exemplar"):
        STaR.validate_prompt("exemplars", "\n")
