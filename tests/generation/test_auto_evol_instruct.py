"""Auto Evol-Instruct (#12): the method that fails least on the dev set is kept as a version."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.projects.models import AuditEvent
from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes.auto_evol_instruct_method import (
    failure,
    failure_rate,
    final_instruction,
    method_text,
    parse_method,
)
from generation.recipes.prompts import PromptError
from generation.runs import services
from generation.runs.models import PromptOverride, RunItem, RunStatus
from generation.runs.run_prompts import save_run_prompt
from tests.generation.cases import counter

TASKS = [f"Task {i}: describe a tide pool animal." for i in range(10)]
SEEDS = "\n".join(json.dumps({"instruction": t, "output": "x"}) for t in TASKS).encode()
FAILING = {"A": {0, 1, 2}, "B": {0}}  # dev failure rates 0.3 and 0.1
CLARIFY = "Could you clarify which animal you mean?"


def candidate(tag: str) -> str:
    return (
        "Step 1: #Methods List#\nList ways to deepen it.\n"
        f"Step 2: #Plan#\nPlan with care ({tag}).\n"
        "Step 3: #Finally Rewritten Instruction#\nGive the rewrite only."
    )


def script(fake: Any) -> None:
    tick = counter()

    def evolve(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        task = re.search(r"#Instruction#:\nTask (\d+)", text).group(1)
        via = next((t for t in FAILING if f"({t})" in text), "start")
        return (
            "Step 1: #Methods List#\n- depth\nStep 2: #Plan#\n- add detail\n"
            f"Step 3: #Finally Rewritten Instruction#\nTask {task}: describe a tide pool "
            f"animal and its defences (via {via})."
        )

    def respond(body: dict[str, Any]) -> str:
        task, via = re.search(
            r"Task (\d+).*\(via (\w+)\)", body["messages"][-1]["content"]
        ).groups()
        if int(task) in FAILING.get(via, set()):
            return CLARIFY
        return f"The hermit crab hides in a shell ({tick()})."

    fake.script(r"^You rewrite an instruction", evolve)
    fake.script(r"^Below is how one instruction changed", "- The rewrite lost the habitat.")
    fake.script(r"^You improve a method", lambda body: [candidate("A"), candidate("B")])
    fake.script(r"\(via \w+\)\.\s*$", respond)


PARAMS = {"optimize_steps": 1, "mini_batch": 2, "evolve_steps": 1, "n_methods": 2, "dev_size": 10}


def test_a_method_is_named_steps_ending_in_the_final_rewrite() -> None:
    steps = parse_method(
        "```\nStep 1: #Methods List#\nx\nStep 2. #Finally Rewritten Instruction#: y\n```"
    )
    assert [s.name for s in steps] == ["Methods List", "Finally Rewritten Instruction"]
    assert method_text(steps) == (
        "Step 1: #Methods List#\nx\n\nStep 2: #Finally Rewritten Instruction#\ny"
    )
    with pytest.raises(PromptError):
        parse_method("Step 1: #Methods List#\nx\nStep 2: #Plan#\ny")
    with pytest.raises(PromptError):
        parse_method("Just rewrite it so it is harder.")
    assert method_text(parse_method(candidate("{{evil}}"))).count("{{") == 0


def test_the_evolved_instruction_is_the_final_steps_text() -> None:
    answer = "Step 1: #Plan#\nadd\nStep 2: #Finally Rewritten Instruction#\nName three crabs."
    assert final_instruction(answer) == "Name three crabs."
    assert final_instruction("#Finally Rewritten Instruction#: Name two.") == "Name two."
    assert final_instruction("I could not do it.") is None


def test_the_failure_detector_reads_requests_for_more_and_unchanged_rewrites() -> None:
    assert failure("Name a crab.", None, None) == "unparsed_evolution"
    assert failure("Name a crab.", "name a  crab.", None) == "stagnant_complexity"
    assert failure("a", "Name two crabs.", "Understood. Shall I start?") == "stagnant_complexity"
    assert failure("a", "Name two crabs.", "Sure, which crabs?") == "insufficient_qualification"
    assert failure("a", "Name two crabs.", "Please provide the list.") == "lost_key_information"
    assert failure("a", "Name two crabs.", CLARIFY) == "lost_key_information"
    assert failure("a", "#Rewritten Instruction#: x", None) == "copied_template_words"
    assert failure("a", "Name two crabs.", "To be sure: hermit and shore crabs.") is None
    assert failure_rate([None, "x", None, None]) == 0.25


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sliced", [False, True])
def test_of_two_candidates_the_one_failing_least_on_ten_dev_seeds_is_saved_once_and_rows_name_it(
    bench: Any, fake_llm: Any, settings: Any, sliced: bool
) -> None:
    if sliced:
        settings.SEEDBED_RUN_SLICE_SECONDS = 0.5
        settings.SEEDBED_RUN_GRACE_SECONDS = 0.1
        fake_llm.latency = 0.15
    script(fake_llm)
    seed_set = import_seed_set(bench.owner, bench.project, name="Tasks", data=SEEDS)
    run = bench.start("auto_evol_instruct", 20, seed_set=seed_set, params=PARAMS)
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert not sliced or (run.slices >= 2 and run.state["kit"]["replayed_steps"] > 0)
    history = run.state["auto_evol_instruct"]["history"]
    assert history[0]["failure_rates"] == [0.3, 0.1] and history[0]["chosen"] == 1
    (saved,) = PromptOverride.objects.filter(project=bench.project, recipe_id="auto_evol_instruct")
    assert saved.name == "method" and saved.version == 1
    assert saved.text == method_text(parse_method(candidate("B")))
    assert run.state["auto_evol_instruct"]["method_version"] == "project:p1"
    assert AuditEvent.objects.filter(verb="prompt.override", object_id=str(saved.pk)).count() == 1
    evolve_event = AuditEvent.objects.get(verb="prompt.evolve", object_id=str(run.pk))
    assert evolve_event.after["version"] == 1 and evolve_event.after["failure_rate"] == 0.1
    # Every seed was evolved with method B; task 0's rewrite asks for clarification: dropped.
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 9
    assert all("(via B)" in s.messages[0]["content"] for s in samples)
    assert {s.extra["metadata"]["method_version"] for s in samples} == {"project:p1"}
    assert {s.prompt_version for s in samples} == {"project:p1"}
    assert RunItem.objects.get(run=run, work_key="aei:ev:" + str(_seed_id(run, 0))).reason == (
        "lost_key_information"
    )


def _seed_id(run: Any, task: int) -> int:
    return run.seed_set.seeds.get(payload__instruction=TASKS[task]).pk


@pytest.mark.django_db(transaction=True)
def test_a_later_run_starts_from_the_saved_method(bench: Any, fake_llm: Any) -> None:
    script(fake_llm)
    seed_set = import_seed_set(bench.owner, bench.project, name="Tasks", data=SEEDS)
    bench.start("auto_evol_instruct", 20, seed_set=seed_set, params=PARAMS)
    again = bench.start(
        "auto_evol_instruct", 20, seed_set=seed_set, params={**PARAMS, "optimize_steps": 0}
    )
    assert again.status == RunStatus.COMPLETED, again.last_error
    assert again.state["auto_evol_instruct"]["method_version"] == "project:p1"
    samples = Sample.objects.filter(run=again)
    assert samples.count() == 9
    assert {s.extra["metadata"]["method_version"] for s in samples} == {"project:p1"}
    assert PromptOverride.objects.filter(recipe_id="auto_evol_instruct").count() == 1


@pytest.mark.django_db(transaction=True)
def test_saving_a_runs_method_again_for_the_same_item_returns_the_first_version(
    bench: Any,
) -> None:
    run = bench.start("auto_evol_instruct", 1, params={"optimize_steps": 0})
    first = save_run_prompt(run.pk, "aei:optimize", "method", candidate("A"))
    again = save_run_prompt(run.pk, "aei:optimize", "method", candidate("B"))
    assert again.pk == first.pk and again.text == candidate("A")
    other = save_run_prompt(run.pk, "aei:other", "method", candidate("B"))
    assert (first.version, other.version) == (1, 2)
    assert AuditEvent.objects.filter(verb="prompt.evolve", object_id=str(run.pk)).count() == 2


@pytest.mark.django_db
def test_a_person_cannot_save_a_method_without_the_step_format(bench: Any) -> None:
    with pytest.raises(ServiceError, match="Finally Rewritten Instruction"):
        services.save_prompt_override(
            bench.owner, bench.project, "auto_evol_instruct", "method",
            "Step 1: #Plan#\nx\nStep 2: #Review#\ny",
        )  # fmt: skip
    saved = services.save_prompt_override(
        bench.owner, bench.project, "auto_evol_instruct", "method", candidate("B")
    )
    assert saved.version == 1
