"""Re-ReST (#54): failed attempts corrected by a reflector with the env's feedback, kept when
the correction passes in the env, linked to the attempt it corrects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.re_rest import split_reflection
from generation.runs.models import RunItem, RunStatus
from tests.generation.cases import counter


def code_task(name: str, what: str, test: str) -> dict[str, Any]:
    """An MBPP-like task: write solution.py; the check script runs its unit tests."""
    return {"question": f"Write solution.py with a function {name}(a, b) that returns {what}.",
            "files": {"solution.py": ""},
            "check": f"python3 -c 'from solution import {name}; {test}'"}  # fmt: skip


ADD = code_task("add", "the sum of a and b", "assert add(2, 3) == 5 and add(-1, 1) == 0")
MUL = code_task("mul", "the product of a and b", "assert mul(2, 3) == 6")


def write(thought: str, name: str, body: str, reflection: str = "") -> str:
    code = f"printf 'def {name}(a, b):\\n    return {body}\\n' > solution.py"
    head = f"Reflection: {reflection}\n" if reflection else ""
    return (f"{head}Thought: {thought}\nAction: run_shell\n"
            f"Action Input: {json.dumps({'command': code})}")  # fmt: skip


DONE = "Thought: The file is written.\nFinal Answer: done"
FIRST = r"\n\(none yet\)\s*$"


def script(fake: Any) -> None:
    n = counter()  # each pass words its thought anew: identical samples would be duplicates
    fake.script(
        r"sum of a.*The earlier try:.*" + FIRST,
        lambda body: write(
            f"Return the sum ({n()}).", "add", "a + b", "I subtracted instead of adding."
        ),
    )
    fake.script(
        r"product.*The earlier try:.*" + FIRST,
        write("Return it.", "mul", "a ** b", "I added; mul must multiply."),
    )
    fake.script(r"The earlier try:", DONE)
    fake.script(r"sum of a.*" + FIRST, write("Write add.", "add", "a - b"))
    fake.script(r"product.*" + FIRST, write("Write mul.", "mul", "a + b"))
    fake.script(r"Steps so far:", DONE)  # fmt: skip


def seeds(bench: Any, *tasks: tuple[str, dict[str, Any]]) -> Any:
    data = "".join(json.dumps({"env": e, "task": t}) + "\n" for e, t in tasks).encode()
    return import_seed_set(bench.owner, bench.project, name="Tasks", data=data)


def filtered(run: Any) -> dict[str, str]:
    return {i.reason: i.detail for i in RunItem.objects.filter(run=run, outcome="filtered")}


def test_the_reflection_paragraph_is_split_from_the_step() -> None:
    text, reflection = split_reflection("Reflection: I forgot X.\nThought: do Y\nAction: a")
    assert (text, reflection) == ("Thought: do Y\nAction: a", "I forgot X.")
    assert split_reflection("Thought: t\nFinal Answer: 1") == ("Thought: t\nFinal Answer: 1", "")


@pytest.mark.django_db(transaction=True)
def test_a_failing_attempt_is_corrected_and_stored_linked_to_it_and_a_failing_revision_is_dropped(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)

    run = bench.start("re_rest", 2, seed_set=seeds(bench, ("shell", ADD), ("shell", MUL)),
                      params={"k": 1}, futility_limit=4)  # fmt: skip

    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run).order_by("work_key"))
    assert len(samples) == 2
    assert "correction_failed" in filtered(run)
    assert "the check script fails" in filtered(run)["correction_failed"]
    sample = samples[0]
    meta = sample.extra["metadata"]
    assert sample.work_key.endswith(":a0r1")
    assert sample.extra["trajectory_id"] == sample.work_key.rsplit(":", 1)[0] + ":a0:r1"
    assert meta["origin"] == "correction" and meta["round"] == 1
    assert meta["corrects"] == sample.extra["trajectory_id"].rsplit(":", 1)[0]
    assert meta["reflection"] == "I subtracted instead of adding."
    assert "the check script fails" in meta["feedback"]
    assert "a - b" in meta["failed_steps"][0]["action"]["arguments"]["command"]
    assert meta["failed_verdict"]["success"] is False
    assert sample.extra["env"]["verdict"]["success"] is True
    assert "self_corrected" in sample.extra["tags"]
    # The stored trajectory is task → the good output: the corrected code, no reflection.
    assert [m["role"] for m in sample.messages] == ["user", "assistant", "tool", "assistant"]
    command = json.loads(sample.messages[1]["tool_calls"][0]["function"]["arguments"])["command"]
    assert "a + b" in command
    assert sample.messages[1]["content"].startswith("Return the sum (")
    assert "Reflection" not in json.dumps(sample.messages)


@pytest.mark.django_db(transaction=True)
def test_attempts_that_pass_are_kept_once_and_need_no_reflection(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(FIRST, write("Write add.", "add", "a + b"))
    fake_llm.script(r"Steps so far:", DONE)

    run = bench.start("re_rest", 1, seed_set=seeds(bench, ("shell", ADD)), params={"k": 2})

    assert run.status == RunStatus.COMPLETED, run.last_error
    [sample] = Sample.objects.filter(run=run)
    assert sample.extra["metadata"] == {"origin": "attempt"}
    assert sample.extra["trajectory_id"].endswith(":a0")
    assert fake_llm.count("The earlier try:") == 0
