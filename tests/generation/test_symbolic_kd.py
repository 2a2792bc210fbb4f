"""Symbolic Knowledge Distillation (#9): events × relations → judged commonsense triples."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.symbolic_kd import clean_event, clean_inference, event_ok
from generation.recipes.symbolic_kd_relations import RELATIONS, parse_relations
from generation.runs.models import Run, RunItem, RunStatus

EVENTS = ["PersonX goes to the store", "PersonX adopts a kitten", "PersonX paints the fence"]
# Two inferences per event × relation; the judge's score is fixed by the inference's word.
INFERENCES = {"xWant": ["to buy milk", "to rest"], "xReact": ["happy", "tired"]}
SCORES = {"milk": 5, "rest": 2, "happy": 4, "tired": 3}


def judge(body: dict[str, Any]) -> str:
    statement = re.search(r"Statement: (.*)", body["messages"][-1]["content"]).group(1)
    word = next(w for w in SCORES if w in statement)
    return f"Fits the event. Score: {SCORES[word]}"


def infer(body: dict[str, Any]) -> list[str]:
    prompt = body.get("prompt") or body["messages"][-1]["content"]
    relation = "xWant" if prompt.startswith(RELATIONS["xWant"].question) else "xReact"
    return [f" {text}." for text in INFERENCES[relation]]


def script(fake: Any) -> None:
    fake.script(r"^You check commonsense", judge)
    fake.script(r"Alex", infer)


def start(bench: Any, target: int = 50, day: int = 0, **params: Any) -> Run:
    """A run on the three events (told on another day for each `day`: the project drops
    exact copies of earlier samples, so runs that compare settings need their own events)."""
    name = f"Events {day}"
    seed_set = bench.project.seed_sets.filter(name=name).first()
    if seed_set is None:
        events = [f"{e} on day {day}" if day else e for e in EVENTS]
        data = "\n".join(json.dumps({"text": e}) for e in events).encode()
        seed_set = import_seed_set(bench.owner, bench.project, name=name, data=data)
    params = {"events": "seeds", "relations": "xWant, xReact", "n_inferences": 2, **params}
    return bench.start("symbolic_kd", target, seed_set=seed_set, params=params)


@pytest.mark.django_db(transaction=True)
def test_three_events_by_two_relations_give_triples_with_relation_score_and_decision(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = start(bench, cutoff="medium")
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run))
    # Score ≥ 3 kept: milk (5), happy (4), tired (3) for each event; rest (2) is cut.
    assert len(samples) == 9 >= 6
    for s in samples:
        assert s.extra["relation"] in ("xWant", "xReact")
        assert s.extra["triple"] == [s.extra["event"], s.extra["relation"], s.extra["inference"]]
        assert s.extra["decision"] == "accepted" and s.judge_score >= 3
        assert s.messages[-1]["content"] == s.extra["inference"]
        assert s.extra["relation"] in s.messages[0]["content"]
    assert {s.extra["event"] for s in samples} == set(EVENTS)
    assert Judgement.objects.filter(sample__run=run).count() == 9
    assert run.filtered["below_cutoff"] == 3  # "to rest" (2) once per event, counted
    assert RunItem.objects.filter(run=run, outcome="produced").count() == 6
    # The inference prompt names the people and completes the relation's cue, top-p 0.5.
    asked = [r for r in fake_llm.requests if "Alex" in (r.get("prompt") or "")]
    assert len(asked) == 6 and all(r["top_p"] == 0.5 and r["n"] == 2 for r in asked)
    assert (
        asked[0]["prompt"].rstrip().endswith(("As a result, Alex wants", "Afterwards, Alex feels"))
    )


@pytest.mark.django_db(transaction=True)
def test_raising_the_threshold_shrinks_the_kept_set_monotonically(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    kept = []
    for day, threshold in enumerate((1.0, 2.5, 3.5, 4.5, 5.0), 1):
        run = start(bench, day=day, cutoff="custom", threshold=threshold)
        assert run.status == RunStatus.COMPLETED, run.last_error
        samples = run.samples.all()
        kept.append({(s.extra["event"].split(" on day")[0], s.extra["inference"]) for s in samples})
    sizes = [len(k) for k in kept]
    assert sizes == [12, 9, 6, 3, 3]
    assert all(later <= earlier for earlier, later in itertools.pairwise(kept))


@pytest.mark.django_db(transaction=True)
def test_the_strict_preset_keeps_fewer_than_medium_and_classification_keeps_all_labelled(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    strict = start(bench, cutoff="strict")
    assert strict.samples.count() == 6  # milk (5) and happy (4)
    rows = start(bench, day=1, cutoff="strict", output="classification")
    labels = sorted(s.label for s in rows.samples.all())
    assert labels == ["acceptable"] * 6 + ["unacceptable"] * 6
    sample = rows.samples.filter(label="unacceptable").first()
    assert sample.kind == "classification" and sample.extra["decision"] == "rejected"
    assert sample.extra["labels"] == ["acceptable", "unacceptable"]
    assert sample.extra["text_b"].startswith(sample.extra["relation"])


@pytest.mark.django_db(transaction=True)
def test_new_events_come_from_a_numbered_list_and_malformed_or_repeated_ones_drop(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    fake_llm.script(
        r"Continue the list with a new event",
        lambda body: [
            " PersonX learns to juggle",
            " The weather is nice",
            " PersonX goes to the store",
        ],
    )
    run = start(bench, target=2, events="generate", events_per_call=3)
    assert run.status == RunStatus.COMPLETED, run.last_error
    events = {s.extra["event"] for s in run.samples.all()}
    assert events == {"PersonX learns to juggle"}
    listing = next(r for r in fake_llm.requests if "Continue the list" in (r.get("prompt") or ""))
    assert listing["prompt"].endswith("4. Event:") and "1. Event: PersonX" in listing["prompt"]
    assert listing["temperature"] == 1.0 and listing["top_p"] == 0.9 and listing["n"] == 3
    spawned = RunItem.objects.filter(run=run, lane="infer").values_list("work_key", flat=True)
    assert {k.rsplit(":", 1)[1] for k in spawned} == {"xWant", "xReact"}
    # The one new event × 2 relations; seeds are recorded through the spawned items.
    assert len(spawned) == 2 and run.samples.count() == 2
    assert all(len(s.seed_ids) == 3 for s in run.samples.all())
    assert (
        run.filtered.get("no_new_events", 0)
        == RunItem.objects.filter(run=run, reason="no_new_events").count()
    )


def test_events_and_inferences_are_read_from_untidy_completions() -> None:
    assert clean_event(" 12. Event: PersonX walks the dog.\n13. Event:") == "PersonX walks the dog"
    assert event_ok("PersonX walks the dog")
    assert not event_ok("The dog walks PersonX")
    assert not event_ok("PersonX <script>")
    cue = RELATIONS["xWant"].cue
    assert clean_inference(" to call Chris.\nmore", cue) == "to call PersonY"
    assert clean_inference("As a result, Alex wants to sleep.", cue) == "to sleep"


def test_relations_are_named_from_the_atomic_set() -> None:
    assert parse_relations("xwant; HinderedBy, xWant") == ["xWant", "HinderedBy"]
    with pytest.raises(ValueError, match="unknown relation"):
        parse_relations("xWish")
