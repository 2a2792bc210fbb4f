"""UltraFeedback (B2): responses under principles, four aspects rated 1-5, mean, pairs."""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
from collections import Counter
from typing import Any

import pytest

from curation.projects import services as project_services
from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.kit import Drop
from generation.recipes.prompts import PromptError
from generation.recipes.ultrafeedback import UltraFeedback
from generation.recipes.ultrafeedback_pairs import pair_confidence, pick_pairs
from generation.recipes.ultrafeedback_principles import PRINCIPLES
from generation.recipes.ultrafeedback_ratings import ASPECTS, Rated, Ratings, gather, read_reply
from generation.runs.models import Run, RunStatus

PROMPT = "Explain why the sky is blue."
OTHERS = ("honesty", "instruction_following", "truthfulness")
# Per response, per aspect, the judge's three samples. Only helpfulness scatters, so the
# overall draws are known whatever order the samples arrive in: A {4.25, 4.25, 3.25},
# B 3.75, C 3.0, D {3.5, 3.0, 3.0}. Overall: A 3.92 > B 3.75 > C 3.0 > D 2.83.
TABLE = {
    "resp-A": {"helpfulness": [5, 5, 1], **{a: [4, 4, 4] for a in OTHERS}},
    "resp-B": {"helpfulness": [3, 3, 3], **{a: [4, 4, 4] for a in OTHERS}},
    "resp-C": {a: [3, 3, 3] for a in ASPECTS},
    "resp-D": {"helpfulness": [5, 1, 1], **{a: [3, 3, 3] for a in OTHERS}},
}
# 2·P(a draw of A beats a draw of the rejected) − 1
PAIR_CONFIDENCE = {"resp-B": 0.3333, "resp-C": 1.0, "resp-D": 0.7778}
HEADINGS = {
    "Helpfulness": "helpfulness",
    "Honesty": "honesty",
    "Instruction-following": "instruction_following",
    "Truthfulness": "truthfulness",
}
_SHOWN = re.compile(r"<text (\d+)>\n(resp-[A-D])", re.DOTALL)


class Judge:
    """Replies to each aspect's k-th call with the k-th sample of TABLE."""

    def __init__(self, table: dict[str, dict[str, list[int]]]) -> None:
        self.table, self.calls, self.lock = table, Counter[str](), threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        aspect = HEADINGS[re.match(r"# (\S+) rating", text).group(1)]
        with self.lock:
            k = self.calls[aspect] % 3
            self.calls[aspect] += 1
        return "\n\n".join(
            f"#### Text {n}\nRating: {self.table[token][aspect][k]}\nRationale: {aspect} {token}"
            for n, token in _SHOWN.findall(text)
        )


def script(fake: Any, judge: Any, answers: list[str] | None = None) -> None:
    letters = itertools.cycle(answers or ["resp-A", "resp-B", "resp-C", "resp-D"])
    lock = threading.Lock()

    def answer(body: dict[str, Any]) -> str:
        with lock:
            return f"{next(letters)}: light scatters."

    fake.script(r"^# \S+ rating", judge)
    fake.script(r"sky is blue|muffins", answer)


def start(bench: Any, seed: dict[str, str] | None = None, **kwargs: Any) -> Run:
    data = json.dumps(seed or {"instruction": PROMPT, "output": "Rayleigh scattering."}).encode()
    name = f"One {bench.project.seed_sets.count()}"
    seed_set = import_seed_set(bench.owner, bench.project, name=name, data=data)
    return bench.start("ultrafeedback", 5, seed_set=seed_set, **kwargs)


def token(text: str) -> str:
    return text.split(":")[0]


# -- reading the judge --------------------------------------------------------------------


def test_a_reply_gives_each_text_its_rating_and_rationale_and_honesty_may_say_na() -> None:
    reply = (
        "#### Text 1\nRating: 4\nRationale: Clear but short.\n\n"
        "#### Text 2\nRating: 2\nRationale: Wrong sum.\nText 1 is better.\n\n"
        "#### Text 3\nRating: N/A\nRationale: A poem."
    )
    assert read_reply(reply, 3, "honesty") == [
        Rated(4.0, "Clear but short."),
        Rated(2.0, "Wrong sum."),
        Rated(None, "A poem."),
    ]
    assert read_reply(reply, 3, "helpfulness")[2] is None  # N/A only where the rubric has it


def test_loose_formats_are_read_and_bare_rating_lines_only_when_one_per_text() -> None:
    loose = "**Text 1**: **Rating**: 4/5 - fine\n**Text 2:** Rating (1-5): 3. Too vague."
    assert read_reply(loose, 2, "truthfulness") == [Rated(4.0, "fine"), Rated(3.0, "Too vague.")]
    unlabelled = "Text 1: 4/5 - vague\nText 2 - **2**"
    assert [r.rating for r in read_reply(unlabelled, 2, "helpfulness") if r] == [4.0, 2.0]
    bare = "Rating: 5\nRationale: ok\nRating: 3\nRationale: meh"
    assert [r.rating for r in read_reply(bare, 2, "truthfulness") if r] == [5.0, 3.0]
    assert read_reply(bare, 3, "truthfulness") == [None, None, None]


def test_malformed_replies_rate_nothing_and_are_counted_unreadable() -> None:
    assert read_reply("They are all lovely.", 2, "helpfulness") == [None, None]
    assert read_reply("Text 1\nRating: 9\nText 2\nRating: 0", 2, "helpfulness") == [None, None]
    assert read_reply("#### Text 7\nRating: 4", 2, "helpfulness") == [None, None]
    replies = [("helpfulness", [1, 0], "#### Text 1\nRating: 5\n#### Text 2\nRating: 2"),
               ("helpfulness", [0, 1], "no idea")]  # fmt: skip
    ratings, unreadable = gather(replies, 2)
    assert unreadable == 1
    assert [r.samples["helpfulness"] for r in ratings] == [[2.0], [5.0]]  # mapped back by order


def test_the_overall_is_the_mean_of_the_four_aspects_with_an_honesty_na_left_out() -> None:
    r = Ratings()
    for aspect, value in zip(ASPECTS, [5, 4, 4, 3], strict=True):
        r.add(aspect, Rated(float(value), ""))
    assert r.overall() == 4.0
    na = Ratings()
    na.add("honesty", Rated(None, "creative"))
    for aspect in ("helpfulness", "instruction_following", "truthfulness"):
        na.add(aspect, Rated(3.0, ""))
    assert na.overall() == 3.0 and na.covered() == 4
    missing = Ratings()
    for aspect in ("helpfulness", "instruction_following", "truthfulness"):
        missing.add(aspect, Rated(3.0, ""))
    assert missing.overall() is None and missing.overall(min_aspects=3) == 3.0


# -- pairs and confidence ------------------------------------------------------------------


def test_best_is_paired_with_a_random_lower_one_and_ties_give_no_pair() -> None:
    scores = [3.92, 3.75, None, 3.0, 3.92]
    rejected = {pick_pairs(scores, "best_vs_random", 0.0, random.Random(s))[0] for s in range(40)}
    assert rejected == {(0, 1), (0, 3)}  # the earlier of equal bests; never the other best
    assert pick_pairs(scores, "best_vs_worst", 0.0, random.Random(0)) == [(0, 3)]
    with pytest.raises(Drop, match="tie"):
        pick_pairs([3.0, 3.0, None], "best_vs_random", 0.0, random.Random(0))
    with pytest.raises(Drop, match="unjudgeable"):
        pick_pairs([4.0, None, None], "best_vs_worst", 0.0, random.Random(0))


def test_a_margin_keeps_only_pairs_far_enough_apart() -> None:
    scores = [3.9167, 3.75, 3.0, 2.8333]
    assert pick_pairs(scores, "best_vs_random", 1.0, random.Random(1)) == [(0, 3)]
    assert pick_pairs(scores, "all_pairs", 0.5, random.Random(1)) == [(0, 2), (0, 3), (1, 2),
                                                                     (1, 3)]  # fmt: skip
    with pytest.raises(Drop, match="small_margin"):
        pick_pairs(scores, "best_vs_worst", 1.5, random.Random(1))


def test_the_pair_confidence_comes_from_how_often_the_judge_samples_agree() -> None:
    assert pair_confidence([4.0, 4.0, 4.0], [3.75, 3.75, 3.75]) == 1.0  # steady: sure
    assert pair_confidence([4.25, 4.25, 3.25], [3.75, 3.75, 3.75]) == 0.3333  # scattered
    assert pair_confidence([4.0, 3.0], [3.0, 4.0]) == 0.0  # either way
    assert pair_confidence([4.0], [1.0, 2.0]) is None  # one sample says nothing
    scattered = Ratings()
    for value in (5.0, 5.0, 1.0):
        scattered.add("helpfulness", Rated(value, ""))
    assert scattered.confidence("helpfulness") == pytest.approx(0.0572, abs=1e-4)


def test_the_principles_prompt_must_name_every_principle() -> None:
    with pytest.raises(PromptError, match="honesty"):
        UltraFeedback.validate_prompt("principles", json.dumps({"helpfulness": ["Help."]}))
    with pytest.raises(PromptError, match="JSON"):
        UltraFeedback.validate_prompt("principles", "Be helpful.")


# -- runs ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_run_pairs_the_best_mean_against_a_lower_one_with_every_rating_stored(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, Judge(TABLE))
    run = start(bench)
    assert run.status == RunStatus.COMPLETED, run.last_error
    sample = run.samples.get()
    assert sample.kind == "preference" and sample.messages == [{"role": "user", "content": PROMPT}]
    assert token(sample.chosen[0]["content"]) == "resp-A"
    lost = token(sample.rejected[0]["content"])
    assert lost in ("resp-B", "resp-C", "resp-D")
    meta = sample.extra["metadata"]
    by_token = {token(r["text"]): r for r in meta["responses"]}
    assert by_token["resp-A"]["overall"] == pytest.approx(3.9167, abs=1e-4)
    assert by_token["resp-A"]["ratings"] == {"helpfulness": pytest.approx(3.6667, abs=1e-4),
                                             **{a: 4.0 for a in OTHERS}}  # fmt: skip
    assert sorted(by_token["resp-A"]["samples"]["helpfulness"]) == [1.0, 5.0, 5.0]
    assert by_token["resp-D"]["overall"] == pytest.approx(2.8333, abs=1e-4)
    assert {r["principle"] for r in meta["responses"]} <= set(PRINCIPLES)
    assert sample.judge_score == pytest.approx(3.9167, abs=1e-4)
    assert sample.judge_confidence == pytest.approx(PAIR_CONFIDENCE[lost], abs=1e-4)
    rows = Judgement.objects.filter(sample=sample)
    assert Counter(j.rubric_id for j in rows) == {f"ultrafeedback_{a}": 2 for a in ASPECTS}
    helpful = rows.get(rubric_id="ultrafeedback_helpfulness", rationale__startswith="chosen")
    assert helpful.score == pytest.approx(3.6667, abs=1e-4)
    assert helpful.confidence == pytest.approx(0.0572, abs=1e-4)
    # Four responses, each with a principle system prompt; four aspects x three samples,
    # each sample showing all four responses.
    asked = [r["messages"] for r in fake_llm.requests]
    responds = [m for m in asked if m[-1]["content"] == PROMPT]
    assert len(responds) == 4 and all(m[0]["role"] == "system" for m in responds)
    judged = [m[-1]["content"] for m in asked if m[-1]["content"].startswith("# ")]
    assert len(judged) == 12 and all(len(_SHOWN.findall(t)) == 4 for t in judged)


@pytest.mark.django_db(transaction=True)
def test_best_vs_worst_and_a_margin_choose_the_rejected(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, Judge(TABLE))
    run = start(bench, params={"pairing": "best_vs_worst"})
    sample = run.samples.get()
    assert token(sample.rejected[0]["content"]) == "resp-D"
    assert sample.judge_confidence == pytest.approx(0.7778, abs=1e-4)
    assert sample.extra["margin"] == pytest.approx(1.0833, abs=1e-4)
    wide = start(bench, params={"min_margin": 1.5})
    assert wide.produced == 0 and wide.filtered == {"small_margin": 1}


@pytest.mark.django_db(transaction=True)
def test_equal_ratings_give_no_pair(bench: Any, fake_llm: Any) -> None:
    script(fake_llm, Judge({t: {a: [3, 3, 3] for a in ASPECTS} for t in TABLE}))
    tie = start(bench)
    assert tie.produced == 0 and tie.filtered == {"tie": 1}


@pytest.mark.django_db(transaction=True)
def test_unreadable_judge_replies_drop_the_item_with_a_reason(bench: Any, fake_llm: Any) -> None:
    fake_llm.script(r"^# \S+ rating", "I think they are all quite good.")
    script(fake_llm, Judge(TABLE))  # its judge never answers: the first match wins
    unread = start(bench)
    assert unread.produced == 0
    assert unread.filtered == {"unreadable_judgements": 1, "unreadable_judgement": 12}
    assert "unreadable_judgements (1)" in unread.last_error


@pytest.mark.django_db(transaction=True)
def test_a_missing_aspect_leaves_responses_unrated_unless_min_aspects_allows_it(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.script(r"^# Truthfulness rating", "Rating: none of them")
    script(fake_llm, Judge(TABLE))
    strict = start(bench)
    assert strict.produced == 0 and strict.filtered["unjudgeable"] == 1
    assert strict.filtered["unrated_response"] == 4
    loose = start(bench, params={"min_aspects": 3})
    sample = loose.samples.get()
    assert token(sample.chosen[0]["content"]) == "resp-A"
    assert sample.extra["chosen_score"] == pytest.approx((3.6667 + 8) / 3, abs=1e-4)


@pytest.mark.django_db(transaction=True)
def test_duplicates_are_judged_once_and_rated_responses_can_be_kto_rows(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, Judge(TABLE), ["resp-A", "resp-B", "resp-A", "resp-D"])
    run = start(bench, params={"rated_rows": "kto", "desirable_at": 3.5})
    assert run.status == RunStatus.COMPLETED, run.last_error
    assert run.filtered == {"duplicate_response": 1}
    kto = {token(s.messages[-1]["content"]): s.extra["kto"]["label"]
           for s in Sample.objects.filter(run=run, kind="sft")}  # fmt: skip
    assert kto == {"resp-A": True, "resp-B": True, "resp-D": False}
    pair = Sample.objects.get(run=run, kind="preference")
    assert len(pair.extra["metadata"]["responses"]) == 3


@pytest.mark.django_db(transaction=True)
def test_a_qa_answer_is_the_judges_world_knowledge_and_steers_the_principle_mix(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, Judge(TABLE))
    seed = {"question": "4 trays of 12 muffins: how many muffins?", "answer": "48"}
    run = start(bench, seed)
    sample = run.samples.get()
    assert sample.extra["gold"] == "48"
    judged = {m[-1]["content"].split("\n")[0]: m[-1]["content"]
              for m in (r["messages"] for r in fake_llm.requests)}  # fmt: skip
    assert all("\n48\n" in judged[f"# {a} rating"] for a in ("Truthfulness", "Helpfulness"))
    assert "None given." not in judged["# Truthfulness rating"]
    principles = {r["principle"] for r in sample.extra["metadata"]["responses"]}
    assert principles <= {"helpfulness", "verbalized_calibration"}  # the FLAN-style mix


@pytest.mark.django_db(transaction=True)
def test_each_optional_model_role_takes_one_response_and_falls_back_to_policy(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, Judge(TABLE))
    other = project_services.save_endpoint(
        bench.owner, bench.project, name="b", base_url=fake_llm.base_url,
        chat_model="model-b", max_concurrency=4,
    )  # fmt: skip
    run = start(bench, endpoints={"model_b": other})
    responses = run.samples.get().extra["metadata"]["responses"]
    assert {r["role"] for r in responses} == {"policy", "model_b", "model_c", "model_d"}
    assert sorted(r["model"] for r in responses) == ["fake-model"] * 3 + ["model-b"]
