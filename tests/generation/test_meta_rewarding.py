"""Meta-Rewarding (#20): length-controlled actor pairs, meta-judged judge pairs, flips tie."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes import meta_rewarding_elo as elo
from generation.recipes.kit.item import Drop
from generation.recipes.kit.results import PairVerdict
from generation.recipes.meta_rewarding import length_controlled
from generation.runs.models import Run, RunStatus

QUESTION = "Explain how tides work."
# The row's case: K = 4, scores [4.5 (400 words), 4.4 (150 words), 3, 1].
RESPONSES = {
    "R1": "R1 " + "tide " * 399,
    "R2": "R2 " + "moon " * 149,
    "R3": "R3 The moon pulls the sea.",
    "R4": "R4 Tides are weather.",
}
JUDGED = {
    "R1": ["Thorough. Score: 5", "Long. Score: 4", "Score: 4.5"],
    "R2": ["Clear. Score: 5", "Score: 4", "Score: 4.2"],
    "R3": ["Generous. Score: 5", "Fair. Score: 3", "Harsh. Score: 1"],  # the judges disagree
    "R4": ["Wrong. Score: 1"] * 3,
}
# The meta-judge ranks Fair > Harsh > Generous, but on Generous vs Fair it always says (A).
RANK = {"Fair": 0, "Harsh": 1, "Generous": 2}
_JUDGMENT = re.compile(r"\((A|B)\) <judgment>(\w+)")


def shown(body: dict[str, Any]) -> str:
    return body["messages"][-1]["content"]


def position_biased_meta_judge(body: dict[str, Any]) -> str:
    a, b = (name for _, name in _JUDGMENT.findall(shown(body)))
    if {a, b} == {"Generous", "Fair"}:
        return "Answer: (A)"
    return "Answer: (A)" if RANK[a] < RANK[b] else "Answer: (B)"


def script(
    fake: Any, meta: Any = position_biased_meta_judge, judged: dict[str, list[str]] = JUDGED
) -> None:
    fake.script(r"^You check the work of judges", meta)
    fake.script(
        r"additive 5-point",
        lambda body: judged[shown(body).split("<response>")[1].split()[0]],
    )
    fake.script(rf"^{QUESTION}", lambda body: list(RESPONSES.values()))


def start(bench: Any, target: int, **params: Any) -> Run:
    data = json.dumps({"instruction": QUESTION, "output": "x"}).encode()
    seeds = import_seed_set(bench.owner, bench.project, name="Tides", data=data)
    params = {"n_responses": 4, "rho": 0.1, **params}
    return bench.start("meta_rewarding", target, seed_set=seeds, params=params)


def test_the_shortest_response_in_the_top_band_is_chosen_against_the_lowest() -> None:
    # Band floor: 0.9 · 4.5 + 0.1 · 1 = 4.15, so 4.5 and 4.4 are in it; 4.4 is shorter.
    assert length_controlled([4.5, 4.4, 3.0, 1.0], [400, 150, 60, 20], 0.1) == (1, 3)
    assert length_controlled([4.5, 4.4, 3.0, 1.0], [400, 150, 60, 20], 0.0) == (0, 3)
    assert length_controlled([4.5, None, 3.0, 1.0], [400, 150, 60, 20], 0.5) == (2, 3)
    with pytest.raises(Drop, match="tie"):
        length_controlled([3.0, 3.0], [10, 20], 0.1)
    with pytest.raises(Drop, match="unjudgeable"):
        length_controlled([3.0, None], [10, 20], 0.1)


def test_a_verdict_that_flips_with_the_order_rates_both_judgements_the_same() -> None:
    flip = PairVerdict(0.5, [1.0, 0.0], ["A", "A"], "text", "v", "m")
    fought = elo.battles(0, 1, flip)
    assert fought == [elo.Battle(0, 1, 1.0), elo.Battle(1, 0, 1.0)]  # the first seat won twice
    rated = elo.ratings(2, fought, elo.position_weights(fought))
    assert rated[0] == rated[1] and elo.best_and_worst(rated) is None
    agree = PairVerdict(1.0, [1.0, 1.0], ["A", "B"], "text", "v", "m")
    fought = elo.battles(0, 1, agree)
    rated = elo.ratings(2, fought, elo.position_weights(fought))
    assert elo.best_and_worst(rated) == (0, 1)
    assert 0.0 < elo.margin_confidence(rated[0], rated[1]) < 1.0


def test_a_win_from_the_seat_the_meta_judge_disfavours_counts_for_more() -> None:
    def verdict(*orders: float | None) -> PairVerdict:
        return PairVerdict(None, list(orders), [], "text", "v", "m")

    flip = verdict(1.0, 0.0)  # the first seat wins in both orders
    asked = {
        (0, 1): flip, (0, 3): flip, (1, 2): flip, (2, 3): flip,
        (0, 2): verdict(1.0, None),  # 0 wins from the first seat; the other order unread
        (1, 3): verdict(None, 1.0),  # 1 wins from the second seat; the other order unread
    }  # fmt: skip
    fought, weights, rated = elo.rate(4, list(asked), list(asked.values()))
    assert weights == (0.1, 0.9)  # 9 of the 10 wins came from the first seat
    assert rated[1] > rated[0]
    assert len(set(elo.ratings(4, fought, (1.0, 1.0))[:2])) == 1  # unweighted: the same


@pytest.mark.django_db(transaction=True)
def test_the_row_case_stores_a_length_controlled_actor_pair_and_a_meta_judged_judge_pair(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm)
    run = start(bench, 2)
    assert run.status == RunStatus.COMPLETED, run.last_error
    actor = Sample.objects.get(run=run, step="actor_pair")
    assert actor.messages == [{"role": "user", "content": QUESTION}]
    assert actor.chosen[0]["content"] == RESPONSES["R2"]  # 4.4 and 150 words, not 4.5 and 400
    assert actor.rejected[0]["content"] == RESPONSES["R4"]
    assert actor.extra["scores"] == pytest.approx([4.5, 4.4, 3.0, 1.0])
    assert actor.extra["metadata"]["top_band"] == [0, 1]
    assert actor.extra["metadata"]["words"] == [400, 150, 6, 4]
    # Its confidence is the lower spread of the two judged responses' samples ([5, 4, 4.2]).
    assert actor.judge_confidence == pytest.approx(0.827, abs=0.001)
    assert Judgement.objects.filter(sample=actor).count() == 2

    judge = Sample.objects.get(run=run, step="judge_pair")
    prompt = judge.messages[0]["content"]
    assert "additive 5-point" in prompt and RESPONSES["R3"] in prompt and QUESTION in prompt
    assert judge.chosen[0]["content"] == "Fair. Score: 3"
    assert judge.rejected[0]["content"] == "Generous. Score: 5"
    meta = judge.extra["metadata"]
    assert meta["response_index"] == 2  # only the response whose judges disagree
    flipped = next(b for b in meta["battles"] if {b["a"], b["b"]} == {0, 1})
    assert flipped["winner"] == "tie" and flipped["orders"] == [1.0, 0.0]
    assert meta["elo"][1] > meta["elo"][2] > meta["elo"][0]
    assert 0.0 < judge.judge_confidence < 1.0
    assert Judgement.objects.get(sample=judge).rubric_id == "meta_judge"
    # Three pairs of judgements, each asked in both orders, by the meta_judge role.
    assert fake_llm.count(r"^You check the work of judges") == 6
    roles = {c["role"] for c in judge.extra["lineage"]["calls"] if c["template"] == "meta_judge"}
    assert roles == {"meta_judge"}


@pytest.mark.django_db(transaction=True)
def test_a_meta_judge_that_always_picks_the_first_seat_gives_no_judge_pair(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, meta="Answer: (A)")
    run = start(bench, 2)
    assert [s.step for s in Sample.objects.filter(run=run)] == ["actor_pair"]
    assert run.filtered == {"judgment_tie": 1}


@pytest.mark.django_db(transaction=True)
def test_an_over_long_judgement_is_left_out_of_the_battles(bench: Any, fake_llm: Any) -> None:
    long = "Generous " + "very " * 20 + "Score: 5"  # 23 words
    script(fake_llm, judged={**JUDGED, "R3": [long, "Fair. Score: 3", "Harsh. Score: 1"]})
    run = start(bench, 2, max_judgment_words=10)
    judge = Sample.objects.get(run=run, step="judge_pair")
    assert judge.chosen[0]["content"] == "Fair. Score: 3"
    assert judge.rejected[0]["content"] == "Harsh. Score: 1"
    assert fake_llm.count(r"^You check the work of judges") == 2  # one pair, both orders
    assert run.filtered == {"long_judgment": 1}


@pytest.mark.django_db(transaction=True)
def test_equal_scores_give_no_actor_pair_but_a_judge_pair_when_the_judges_disagree(
    bench: Any, fake_llm: Any
) -> None:
    split = ["Generous. Score: 5", "Fair. Score: 3", "Harsh. Score: 1"]
    script(fake_llm, judged=dict.fromkeys(JUDGED, split))
    run = start(bench, 2)
    assert [s.step for s in Sample.objects.filter(run=run)] == ["judge_pair"]
    assert run.filtered == {"actor_tie": 1}
