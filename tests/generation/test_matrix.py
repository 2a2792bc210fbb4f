"""MATRIX (#16): personas live rounds in a small world; grouped by profile similarity, their
actions are routed inside and across groups; each agent's round is a scenario that grounds
an instruction.

The fake embedder puts the three carers and the three builders of software in two clear
clusters; the fake modulator always names one person of another group and one of its own.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import numpy as np
import pytest

from curation.projects.services import ServiceError
from curation.samples.models import Sample
from curation.seeds.services import import_seed_set
from generation.recipes import matrix_world as mw
from generation.recipes.base import SeedRow
from generation.recipes.matrix import Matrix
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.cases import words

PERSONAS = [
    ("Ana", "A night-shift nurse who looks after her elderly father.", {"goals": ["rest more"]}),
    ("Ben", "A hospice carer who volunteers at the weekend.", {}),
    ("Cleo", "A pharmacist in a rural clinic who cares for patients.", {"age": 52}),
    ("Dev", "A backend coder who maintains an open-source library.", {}),
    ("Eli", "A data engineer building pipelines at a start-up.", {}),
    ("Fay", "A software tester who automates checks for a bank.", {"goal": "lead a team"}),
]
CARERS = {"Ana", "Ben", "Cleo"}
CARE = ("nurse", "carer", "pharmacist")


class Embedder:
    """Carers along one axis, software people along the other (a little apart)."""

    name, dim = "fake-2d", 2

    def encode(self, texts: list[str]) -> Any:
        rows = [[1.0, 0.1 * i] if any(w in t for w in CARE) else [0.1 * i, 1.0]
                for i, t in enumerate(texts)]  # fmt: skip
        array = np.array(rows, dtype=np.float32)
        return array / np.linalg.norm(array, axis=1, keepdims=True)


def route(body: dict[str, Any]) -> str:
    """The modulator names the first person of another group and the first of its own."""
    text = body["messages"][-1]["content"]
    actor = re.search(r"\n(\w+) just did this", text).group(1)  # type: ignore[union-attr]
    own = re.search(r"People in your group: (.*)", text).group(1).split(", ")  # type: ignore[union-attr]
    other = re.search(r"group \d+: (\w+)", text).group(1)  # type: ignore[union-attr]
    return f"Notify: {other}, {next(n for n in own if n != actor)}"


def instruction(body: dict[str, Any]) -> str:
    """An instruction that names the scenario it came from (and is off-topic for Dev)."""
    text = body["messages"][-1]["content"]
    sid = re.search(r"Scenario (\S+)", text).group(1)  # type: ignore[union-attr]
    if "Person: Dev" in text:
        return f"Tell me a fun fact about volcanoes number {sid}."
    agent = re.search(r"Person: (\w+)", text).group(1)  # type: ignore[union-attr]
    return f"I am {agent}; help me with {words(zlib.crc32(sid.encode()), 10)} (scenario {sid})."


def grounded(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    score = 1 if "volcanoes" in text else 4
    return f"Judged. Score: {score}"


def act(body: dict[str, Any]) -> str:
    found = re.search(r"It is round (\d)", body["messages"][-1]["content"])
    return f"I share my news of round {found.group(1)}."  # type: ignore[union-attr]


def script(fake: Any) -> None:
    fake.script(r"^Here is the profile of a person", lambda body: "To keep learning new things.")
    fake.script(r"^You are the modulator", route)
    fake.script(r"^You are (\w+), a person", act)
    fake.script(r"^Below is a scenario", instruction)
    fake.script(r"^Judge whether the request", grounded)
    fake.script(r"^Judge how well", lambda body: "Fine. Score: 3")


def personas(bench: Any) -> Any:
    lines = "\n".join(
        json.dumps({"name": n, "persona": d, "attributes": a}) for n, d, a in PERSONAS
    )
    return import_seed_set(bench.owner, bench.project, name="People", data=lines.encode())


@pytest.fixture
def embedder(monkeypatch: Any) -> None:
    monkeypatch.setattr("generation.recipes.kit.pools.local", Embedder)


def scenarios(run: Run, world: str = "w0") -> list[dict[str, Any]]:
    rows = RunItem.objects.filter(run=run, lane="scenario").values_list("payload", flat=True)
    return sorted((p for p in rows if p["world"] == world), key=lambda p: p["id"])


def start(bench: Any, fake: Any, target: int, **params: Any) -> Run:
    script(fake)
    run = bench.start("matrix", target, seed_set=personas(bench), params=params)
    assert run.status == RunStatus.COMPLETED, run.last_error
    return run


# -- the world without the model ------------------------------------------------------------


def test_agents_are_grouped_with_the_most_similar_and_a_lone_one_joins_its_nearest_group() -> None:
    sim = [[1, 0.9, 0.1, 0.2, 0.3], [0.9, 1, 0.2, 0.1, 0.2], [0.1, 0.2, 1, 0.8, 0.1],
           [0.2, 0.1, 0.8, 1, 0.6], [0.3, 0.2, 0.1, 0.6, 1]]  # fmt: skip
    assert mw.homophily_groups(sim, 2) == [[0, 1], [2, 3, 4]]
    assert mw.homophily_groups(sim, 5) == [[0, 1, 2, 3, 4]]
    assert mw.nearest_outside(sim, [[0, 1], [2, 3, 4]], 3) == 0
    assert mw.nearest_outside(sim, [[0, 1, 2, 3, 4]], 3) == -1


def test_the_modulators_reply_is_read_for_known_names_only() -> None:
    names = ["Ana", "Ben", "Ana 2"]
    assert mw.parse_recipients("Notify: ben, Ana 2, Zed", names, "Ben") == ["Ana 2"]
    assert mw.parse_recipients("Notify: nobody", names, "Ana") == []
    assert mw.parse_recipients("I think everyone should know.", names, "Ana") is None
    full = ["Mara Okafor", "Ken Adachi", "Ken Lee"]
    assert mw.parse_recipients("Notify: Mara, Ken", full, "Ken Lee") == ["Mara Okafor"]


def test_agents_take_their_personas_names_and_goals_and_clashing_names_are_told_apart() -> None:
    payloads = [
        {"name": "Ana", "description": "A nurse.", "attributes": {"goals": ["rest", "travel"],
                                                                   "age": 40}},
        {"name": "ana", "description": "A cook.", "attributes": {}},
        {"name": "", "description": "A pilot.", "attributes": {}},
    ]  # fmt: skip
    rows = [SeedRow(i, "persona", payload, "") for i, payload in enumerate(payloads, 1)]
    agents = mw.members(rows)
    assert [a.name for a in agents] == ["Ana", "ana 2", "Agent 3"]
    assert agents[0].goal == "rest; travel" and agents[0].profile == "A nurse.\nage: 40"
    assert agents[1].goal == ""


# -- runs against the fake server -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_six_personas_in_three_rounds_leave_a_scenario_log_with_inter_group_messages(
    bench: Any, fake_llm: Any, embedder: None
) -> None:
    run = start(bench, fake_llm, 15)
    log = scenarios(run)
    assert len(log) == 18  # six agents, three rounds, every one of them acted
    groups = {frozenset(g) for g in log[0]["groups"]}
    assert groups == {frozenset(CARERS), frozenset({"Dev", "Eli", "Fay"})}
    assert log[0]["grouping"] == "embedding:fake-2d"
    told = [m for s in log for m in s["told"]]
    inter = [m for m in told if m["kind"] == "inter"]
    assert inter and all((m["from"] in CARERS) != (m["to"] in CARERS) for m in inter)
    assert all((m["from"] in CARERS) == (m["to"] in CARERS) for m in told if m["kind"] == "intra")
    # What an agent heard in round 2 is what others told it in round 1.
    ana_2 = next(s for s in log if s["agent"] == "Ana" and s["round"] == 2)
    assert ana_2["heard"] == [
        m for s in log if s["round"] == 1 for m in s["told"] if m["to"] == "Ana"
    ]
    assert set(ana_2["agents"]) >= {"Ana", *(m["from"] for m in ana_2["heard"])}
    assert "Goal: rest more" in ana_2["text"] and "(another group)" in ana_2["text"]
    report = Matrix.report(run)
    assert report["messages"]["inter"] >= len(inter) and report["scenarios"] >= 18


@pytest.mark.django_db(transaction=True)
def test_each_instruction_references_its_scenario_and_is_judged_grounded(
    bench: Any, fake_llm: Any, embedder: None
) -> None:
    run = start(bench, fake_llm, 15)
    logged = {s["id"]: s for w in ("w0", "w1", "w2") for s in scenarios(run, w)}
    samples = list(Sample.objects.filter(run=run).prefetch_related("judgements"))
    assert len(samples) == 15
    for sample in samples:
        meta = sample.extra["metadata"]
        scenario = logged[meta["scenario_id"]]
        assert meta["scenario"] == scenario["text"] and meta["agent"] == scenario["agent"]
        assert meta["scenario_id"] in sample.messages[0]["content"]  # the fake echoes it
        assert sample.judge_score == 4.0 and sample.judge_confidence == 1.0
        (verdict,) = sample.judgements.all()
        assert verdict.rubric_id == "grounded" and verdict.score == 4.0
    # Dev's off-topic instructions were judged ungrounded and dropped.
    assert all(s.extra["metadata"]["agent"] != "Dev" for s in samples)
    dropped = RunItem.objects.filter(run=run, reason="not_grounded")
    assert set(dropped.values_list("payload__agent", flat=True)) == {"Dev"}


@pytest.mark.django_db(transaction=True)
def test_the_rule_modulator_tells_the_group_and_the_most_similar_agent_elsewhere(
    bench: Any, fake_llm: Any, embedder: None
) -> None:
    run = start(bench, fake_llm, 3, modulator="rule", rounds=1)
    assert fake_llm.count(r"^You are the modulator") == 0
    for s in scenarios(run):
        kinds = sorted(m["kind"] for m in s["told"])
        assert kinds == ["inter", "intra", "intra"], s["told"]


@pytest.mark.django_db(transaction=True)
def test_a_preference_run_pairs_the_better_judged_response_against_the_worse(
    bench: Any, fake_llm: Any, embedder: None
) -> None:
    fake_llm.script(r"^Judge how well.*<response>\nGood", lambda body: "Fine. Score: 5")
    fake_llm.script(r"^I am \w+; help me", lambda body: ["Good plan: rest first.", "Bad."])
    run = start(bench, fake_llm, 2, output="preference", rounds=1)
    for sample in Sample.objects.filter(run=run):
        assert sample.kind == "preference"
        assert (
            sample.chosen[0]["content"].startswith("Good")
            and sample.rejected[0]["content"] == "Bad."
        )
        assert sample.extra["metadata"]["quality"]["scores"] == [5.0, 3.0]
        assert {j.rubric_id for j in sample.judgements.all()} == {"grounded", "quality"}


@pytest.mark.django_db(transaction=True)
def test_without_an_embedder_word_overlap_groups_the_agents_and_the_run_notes_it(
    bench: Any, fake_llm: Any, monkeypatch: Any
) -> None:
    def unavailable() -> None:
        raise OSError("no model files")

    monkeypatch.setattr("generation.recipes.kit.pools.local", unavailable)
    run = start(bench, fake_llm, 2, rounds=1)
    assert scenarios(run)[0]["grouping"] == "lexical"
    assert run.state["kit"]["notes"]["grouping_by_word_overlap"] >= 1


@pytest.mark.django_db
def test_a_seed_set_of_one_persona_is_refused_before_the_run_starts(bench: Any) -> None:
    one = json.dumps({"name": "Ana", "persona": PERSONAS[0][1]}).encode()
    seed_set = import_seed_set(bench.owner, bench.project, name="One", data=one)
    with pytest.raises(ServiceError, match="two or more persona seeds"):
        bench.start("matrix", 2, seed_set=seed_set)
