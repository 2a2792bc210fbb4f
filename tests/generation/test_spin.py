"""SPIN (#3): gold SFT answers against the policy model's own; the row's acceptance test, the
skip rules, the confidence, rounds, and a DPO export that keeps the gold bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from curation.projects import services as project_services
from curation.samples.models import Judgement, Sample
from curation.seeds.services import import_seed_set
from generation.recipes.base import SeedRow
from generation.recipes.spin import confidence_of, judged_confidence
from generation.recipes.spin_rows import rows, similarity
from generation.runs.models import RunStatus
from generation.runs.presenters import recipe_report
from tests.exports.helpers import export_now, jsonl_rows
from tests.exports.test_formats import check_trl, load
from tests.generation.test_runs import api

GSM8K = "In May she sold 48 / 2 = 24 clips.\nIn all: 48 + 24 = 72.\n#### 72"
# Five SFT rows of three kinds; the gold answers keep spaces, tabs, newlines and unicode.
FIVE = [
    {"question": "Natalia sold 48 clips, then half as many. How many?", "answer": GSM8K},
    {"question": "What is the capital of Japan?", "answer": "  東京 (Tōkyō) — the capital.  \n"},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour !\n"},
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another one?"},
            {"role": "assistant", "content": " Green — like leaves 🌿\n\n"},
        ]
    },
    {"messages": [{"role": "user", "content": "Say hi in Greek."},
                  {"role": "assistant", "content": "Γειά σου!\t"}]},
]  # fmt: skip
GOLD = [GSM8K, FIVE[1]["answer"], "Bonjour !\n", " Green — like leaves 🌿\n\n", "Γειά σου!\t"]
REPLIES = {
    "Natalia sold": "She sold 72 clips in all.",
    "capital of Japan": "Kyoto, I think.",
    "Translate to French": "Salut.",
    "Another one": "Red.",
    "Say hi in Greek": "Hello!",
}


def seeds_of(bench: Any, records: list[dict[str, Any]], name: str = "SFT") -> Any:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    return import_seed_set(bench.owner, bench.project, name=name, data=data)


def policy(bench: Any, fake: Any) -> Any:
    """A second endpoint with its own model name: the one the pairs' rejected side must name."""
    return project_services.save_endpoint(
        bench.owner, bench.project, name="policy", base_url=fake.base_url,
        chat_model="spin-policy", max_concurrency=4,
    )  # fmt: skip


def script(fake: Any, replies: dict[str, str]) -> None:
    for pattern, reply in replies.items():
        fake.script(pattern, reply)


def start(bench: Any, fake: Any, records: list[dict[str, Any]], target: int, **kw: Any) -> Any:
    ends = {"policy": policy(bench, fake), **kw.pop("endpoints", {})}
    seed_set = seeds_of(bench, records, kw.pop("name", "SFT"))
    return bench.start("spin", target, seed_set=seed_set, endpoints=ends, **kw)


@pytest.mark.django_db(transaction=True)
def test_five_sft_rows_make_five_pairs_with_the_gold_byte_for_byte_against_the_models_answer(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, REPLIES)
    run = start(bench, fake_llm, FIVE, 5)
    assert run.status == RunStatus.COMPLETED, run.last_error
    samples = list(Sample.objects.filter(run=run).order_by("work_key"))
    assert len(samples) == 5 and run.produced == 5
    by_gold = {s.chosen[0]["content"]: s for s in samples}
    assert [g.encode() for g in sorted(by_gold)] == [g.encode() for g in sorted(GOLD)]
    for s in samples:
        assert s.kind == "preference" and s.chosen[0]["role"] == "assistant"
        assert s.rejected[0]["content"] in REPLIES.values()
        assert s.model == "spin-policy"  # the configured policy endpoint wrote the rejected side
        assert s.extra["gold"] == s.chosen[0]["content"]
        assert s.extra["source"] == "spin:gold_vs_policy"
    assert by_gold[GSM8K].messages == [{"role": "user", "content": FIVE[0]["question"]}]
    assert by_gold[GSM8K].extra["metadata"]["gold_field"] == "solution"
    assert by_gold["Bonjour !\n"].messages[0]["content"] == "Translate to French.\n\nGood morning"
    assert by_gold["Bonjour !\n"].rejected[0]["content"] == "Salut."
    # A conversation's earlier turns are the prompt, its last assistant turn the gold.
    assert by_gold[GOLD[3]].messages == FIVE[3]["messages"][:-1]
    assert by_gold[GOLD[3]].rejected[0]["content"] == "Red."
    sent = [r for r in fake_llm.requests if r["messages"][-1]["content"] == "Another one?"]
    assert sent[0]["messages"] == FIVE[3]["messages"][:-1] and sent[0]["model"] == "spin-policy"
    assert sent[0]["max_tokens"] == 256 and sent[0]["temperature"] == 1.0


@pytest.mark.django_db(transaction=True)
def test_an_answer_equal_to_the_gold_but_for_whitespace_or_nearly_equal_is_skipped(
    bench: Any, fake_llm: Any
) -> None:
    long_gold = "Plants use sunlight, water and carbon dioxide to make sugar and release oxygen."
    records = [
        {"question": "What is two plus two?", "answer": "Two plus two is four."},
        {"question": "What is photosynthesis?", "answer": long_gold},
        {"question": "Name a planet.", "answer": "Mars."},
    ]
    script(fake_llm, {
        "two plus two": "  Two plus\n two   is four. ",
        "photosynthesis": long_gold.replace("release", "emit"),
        "Name a planet": "Jupiter is a planet.",
    })  # fmt: skip
    run = start(bench, fake_llm, records, 3)
    assert run.produced == 1
    assert run.filtered == {"same_as_gold": 1, "near_gold": 1}
    (sample,) = Sample.objects.filter(run=run)
    assert sample.rejected[0]["content"] == "Jupiter is a planet."


@pytest.mark.django_db(transaction=True)
def test_an_empty_answer_is_dropped(bench: Any, fake_llm: Any) -> None:
    records = [
        {"question": "Say nothing.", "answer": "…"},
        {"question": "Ramble.", "answer": "No."},
    ]
    script(fake_llm, {"Say nothing": "   ", "Ramble": "Yes, at length."})
    run = start(bench, fake_llm, records, 2)
    assert run.filtered == {"empty_output": 1}
    (sample,) = Sample.objects.filter(run=run)
    assert sample.rejected[0]["content"] == "Yes, at length."


def test_rows_come_from_each_kind_and_unusable_conversations_carry_their_reason() -> None:
    def seed(i: int, kind: str, payload: dict[str, Any]) -> SeedRow:
        return SeedRow(i, kind, payload, "")

    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    tool = {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}
    made = list(rows([
        seed(1, "qa", {"question": "Q?", "answer": "7", "solution": "3 + 4 = 7\n#### 7"}),
        seed(2, "instruction", {"instruction": "Do.", "instances": [
            {"input": "", "output": "a"}, {"input": "x", "output": "b"}]}),
        seed(3, "conversation", {"messages": chat}),
        seed(4, "conversation", {"messages": chat[:1]}),
        seed(5, "conversation", {"messages": [chat[0], tool, {"role": "tool", "content": "r"},
                                              chat[1]]}),
        seed(6, "text", {"text": "no gold here"}),
    ], "solution"))  # fmt: skip
    assert [(r.key, r.gold, r.problem) for r in made] == [
        ("spin:1:0", "3 + 4 = 7\n#### 7", ""),
        ("spin:2:0", "a", ""),
        ("spin:2:1", "b", ""),
        ("spin:3:0", "Hello", ""),
        ("spin:4:0", "", "last_turn_not_the_assistants"),
        ("spin:5:0", "Hello", "tool_turns"),
    ]
    assert made[2].single_turn == "Do.\n\nx"
    assert next(rows([seed(1, "qa", {"question": "Q?", "answer": "7", "solution": "s"})],
                     "answer")).gold == "7"  # fmt: skip


def test_the_confidence_falls_as_the_answer_nears_the_gold_and_is_capped_when_it_is_right() -> None:
    assert similarity("The cat sat.", "the CAT sat") == 1.0
    assert similarity("東京は日本の首都", "東京は首都") > similarity("東京は日本の首都", "大阪")
    far, near = confidence_of(0.1, None), confidence_of(0.6, None)
    assert far == 0.9 and near == 0.4 and confidence_of(0.1, True) == 0.5
    assert judged_confidence(0.9, 0.8) == 0.8 and judged_confidence(0.3, 0.4) == 0.0
    assert judged_confidence(None, None) is None


@pytest.mark.django_db(transaction=True)
def test_confident_pairs_are_accepted_and_a_right_qa_answer_goes_to_people(
    bench: Any, fake_llm: Any
) -> None:
    script(fake_llm, REPLIES)
    run = start(bench, fake_llm, FIVE[:3], 3, review_below=0.6)
    by_gold = {s.chosen[0]["content"]: s for s in Sample.objects.filter(run=run)}
    right = by_gold[GSM8K]  # "72 clips in all" reaches the gold answer: wording only
    assert right.extra["metadata"]["reached_gold_answer"] is True
    assert right.judge_confidence == 0.5 and right.status == "pending"
    other = by_gold["Bonjour !\n"]
    assert other.judge_confidence == 1.0 and other.status == "accepted" and other.auto_accepted


@pytest.mark.django_db(transaction=True)
def test_the_optional_judge_compares_both_orders_and_its_certainty_is_the_confidence(
    bench: Any, fake_llm: Any
) -> None:
    def prefer_gold(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        a = text.split("<reply_a>")[1].split("</reply_a>")[0]
        return "Answer: (A)" if "Bonjour" in a else "Answer: (B)"

    fake_llm.script(r"Two replies were written", prefer_gold)
    script(fake_llm, REPLIES)
    ends = {"judge": bench.endpoint}
    run = start(bench, fake_llm, FIVE[2:3], 1, params={"judge_pairs": True}, endpoints=ends)
    sample = Sample.objects.get(run=run)
    assert sample.judge_score == 1.0 and sample.judge_confidence == 1.0
    judgement = Judgement.objects.get(sample=sample)
    assert judgement.confidence == 1.0 and judgement.judge_model == "fake-model"
    assert fake_llm.count(r"Two replies were written") == 2


@pytest.mark.django_db(transaction=True)
def test_a_judge_that_prefers_the_models_answer_gives_zero_confidence_not_a_dropped_pair(
    bench: Any, fake_llm: Any
) -> None:
    def prefer_model(body: dict[str, Any]) -> str:
        a = body["messages"][-1]["content"].split("<reply_a>")[1]
        return "Answer: (B)" if a.lstrip().startswith("Bonjour") else "Answer: (A)"

    fake_llm.script(r"Two replies were written", prefer_model)
    script(fake_llm, REPLIES)
    run = start(bench, fake_llm, FIVE[2:3], 1, params={"judge_pairs": True})
    sample = Sample.objects.get(run=run)
    assert sample.judge_score == 0.0 and sample.judge_confidence == 0.0


@pytest.mark.django_db(transaction=True)
def test_a_later_iteration_is_the_next_round_and_exports_with_the_earlier_rounds(
    bench: Any, fake_llm: Any
) -> None:
    trained = {"iteration": 0}  # the endpoint answers differently once trained again
    for pattern, reply in REPLIES.items():
        fake_llm.script(pattern, lambda body, r=reply: f"{r} (iteration {trained['iteration']})")
    first = start(bench, fake_llm, FIVE[:3], 3, name="iteration 0")
    trained["iteration"] = 1
    second = start(bench, fake_llm, FIVE[:2], 2, name="iteration 1", previous_run=first)
    trained["iteration"] = 2
    third = start(bench, fake_llm, FIVE[2:3], 1, name="iteration 2", previous_run=second)
    report = api(bench.owner).get(f"/api/v1/runs/{third.pk}/report").json()
    assert report["round"] == 3 and report["pairs"] == 1
    assert f"run {first.pk} (round 1): 3 pairs" in report["earlier_rounds"]
    assert f"run {second.pk} (round 2): 2 pairs" in report["earlier_rounds"]
    assert report["rounds_run_ids"] == [first.pk, second.pk, third.pk]
    assert report["with_previous_round_run_ids"] == [second.pk, third.pk]
    assert recipe_report(first)["earlier_rounds"].startswith("none")
    page = Client()
    page.force_login(bench.owner)
    html = page.get(f"/runs/{third.pk}/").content.decode()
    assert "Recipe figures" in html and f"run {first.pk} (round 1): 3 pairs" in html
    filters = {"run_ids": report["with_previous_round_run_ids"], "statuses": ["pending"]}
    export = export_now(bench.owner, bench.project, format="dpo", filters=filters)
    assert export.rows_written == 3  # round 2's two pairs and round 3's one


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["dpo", "dpo_conversational"])
def test_a_dpo_export_of_a_spin_run_loads_passes_trls_checks_and_keeps_the_gold_bytes(
    bench: Any, fake_llm: Any, tmp_path: Path, fmt: str
) -> None:
    script(fake_llm, REPLIES)
    run = start(bench, fake_llm, FIVE, 5)
    filters = {"run_ids": [run.pk], "statuses": ["pending"]}
    export = export_now(bench.owner, bench.project, format=fmt, filters=filters)
    ds = load(export, tmp_path)
    check_trl(fmt, ds)
    written = jsonl_rows(export)
    if fmt == "dpo":  # plain-text DPO holds one user turn: the system-prompted chat is left out
        assert export.manifest["counts"]["skipped"] == {"prompt_not_one_user_turn": 1}
        chosen = [row["chosen"] for row in written]
        loaded = list(ds["chosen"])
    else:
        chosen = [row["chosen"][0]["content"] for row in written]
        loaded = [c[0]["content"] for c in ds["chosen"]]
    expected = GOLD if fmt == "dpo_conversational" else [g for g in GOLD if g != GOLD[3]]
    assert sorted(c.encode() for c in chosen) == sorted(g.encode() for g in expected)
    assert sorted(c.encode() for c in loaded) == sorted(g.encode() for g in expected)
    assert len(ds) == export.rows_written == len(expected)
