"""Preference pairs from human work and AI judges, and the rule that people win."""

from __future__ import annotations

from typing import Any

import pytest

from curation.exports.pairs import ranking_pairs
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows, path_of

pytestmark = pytest.mark.django_db


def by_prompt(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["prompt"], []).append(r)
    return out


def test_an_edit_made_in_review_appears_as_a_chosen_rejected_pair(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    export = export_now(cast.curator, cast.project, format="dpo")
    rows = by_prompt(jsonl_rows(export))
    assert rows["Spell cat."] == [
        {"prompt": "Spell cat.", "chosen": "c-a-t", "rejected": "k-a-t", "source": "human:edit"}
    ]
    card = path_of(export, "README.md").read_text()
    assert "## How pairs are made" in card and "An edit gives (edited = chosen" in card
    conversational = export_now(cast.curator, cast.project, format="dpo_conversational")
    edit = next(r for r in jsonl_rows(conversational) if r["source"] == "human:edit")
    assert edit["prompt"] == [{"role": "user", "content": "Spell cat."}]
    assert edit["chosen"] == [{"role": "assistant", "content": "c-a-t"}]
    assert edit["rejected"] == [{"role": "assistant", "content": "k-a-t"}]


def test_a_human_ranking_overrides_the_judge_and_a_tie_drops_the_pair(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    export = export_now(cast.curator, cast.project, format="dpo", options={"include_scores": True})
    rows = by_prompt(jsonl_rows(export))
    flipped = dataset["flipped"]
    (row,) = rows[flipped.messages[0]["content"]]
    assert row["chosen"] == flipped.rejected[0]["content"]  # the person preferred the other one
    assert row["rejected"] == flipped.chosen[0]["content"]
    assert row["source"] == "human:ranking" and row["score_chosen"] is None
    assert dataset["tied"].messages[0]["content"] not in rows
    assert export.manifest["counts"]["skipped"]["ranked_as_tie"] == 1


def test_ai_judge_pairs_keep_their_source_and_scores(cast: Cast, dataset: dict[str, Any]) -> None:
    export = export_now(cast.curator, cast.project, format="dpo", options={"include_scores": True})
    rows = by_prompt(jsonl_rows(export))
    (sr,) = rows[dataset["ai_pair"].messages[0]["content"]]
    assert sr["source"] == "ai_judge:self_rewarding"
    assert (sr["score_chosen"], sr["score_rejected"]) == (4.5, 1.0)
    (cai,) = rows[dataset["cai_pair"].messages[0]["content"]]
    assert cai["source"] == "ai_judge:constitutional_ai"
    assert (cai["score_chosen"], cai["score_rejected"]) == (0.75, 0.25)


def test_accepted_and_rejected_answers_to_one_prompt_make_a_pair(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    export = export_now(cast.curator, cast.project, format="dpo")
    (row,) = by_prompt(jsonl_rows(export))["Name a colour."]
    assert (row["chosen"], row["rejected"], row["source"]) == (
        "Blue.",
        "Dog.",
        "human:accept_vs_reject",
    )
    assert export.manifest["counts"]["by_source"] == {
        "ai_judge:constitutional_ai": 1,
        "ai_judge:self_rewarding": 1,
        "human:accept_vs_reject": 1,
        "human:edit": 1,
        "human:ranking": 1,
    }
    ids = [int(x) for x in path_of(export, "sample_ids.txt").read_text().split()]
    behind = ("good", "bad", "edited", "flipped", "ai_pair", "cai_pair")
    assert ids == sorted(dataset[k].pk for k in behind) and export.sample_count == 6


def test_kto_labels_follow_human_decisions(cast: Cast, dataset: dict[str, Any]) -> None:
    export = export_now(cast.curator, cast.project, format="kto")
    rows = jsonl_rows(export)
    labels = {(r["prompt"][-1]["content"], r["completion"][0]["content"]): r["label"] for r in rows}
    assert labels[("Name a colour.", "Blue.")] is True
    assert labels[("Name a colour.", "Dog.")] is False
    assert labels[("Spell cat.", "c-a-t")] is True
    assert labels[("Spell cat.", "k-a-t")] is False  # the original an annotator corrected
    flipped = dataset["flipped"]
    prompt = flipped.messages[0]["content"]
    assert labels[(prompt, flipped.rejected[0]["content"])] is True
    assert labels[(prompt, flipped.chosen[0]["content"])] is False
    assert dataset["pending"].messages[-1]["content"] not in {c for _, c in labels}


def test_a_ranking_gives_every_ordered_pair_and_none_for_ties() -> None:
    assert sorted(ranking_pairs([["a", ["b", "c"], "d"]])) == [
        ("a", "b"),
        ("a", "c"),
        ("a", "d"),
        ("b", "d"),
        ("c", "d"),
    ]
    assert ranking_pairs([[["a", "b"]]]) == []


def test_several_rankings_keep_a_pair_only_by_majority() -> None:
    assert ranking_pairs([["a", "b"], ["a", "b"], ["b", "a"]]) == [("a", "b")]
    assert ranking_pairs([["a", "b"], ["b", "a"]]) == []


def test_an_answer_rejected_only_as_a_duplicate_makes_no_pair_and_no_false_row(
    cast: Cast, dataset: dict[str, Any]
) -> None:
    from tests.exports.conftest import chat
    from tests.factories import SampleFactory

    copy = SampleFactory(
        project=cast.project,
        status="rejected",
        dup_status="near_duplicate",
        duplicate_of=dataset["good"],
        messages=chat("Name a colour.", "Blue!"),
    )
    dpo = export_now(cast.curator, cast.project, format="dpo")
    assert [r["rejected"] for r in by_prompt(jsonl_rows(dpo))["Name a colour."]] == ["Dog."]
    kto = export_now(cast.curator, cast.project, format="kto")
    completions = {r["completion"][0]["content"] for r in jsonl_rows(kto)}
    assert "Dog." in completions and copy.messages[-1]["content"] not in completions
