"""The shared tagger (kit/tags.py): parse, normalise, and rank tags by relevance."""

from __future__ import annotations

import asyncio
from typing import Any

from generation.recipes.kit import tags


def test_a_json_list_of_strings_or_of_tag_objects_parses() -> None:
    assert tags.parse_tags('["Poetry", "sea imagery"]') == ["Poetry", "sea imagery"]
    fenced = '```json\n[{"tag": "Rhyme", "explanation": "x"}, {"tag": "Meter"}]\n```'
    assert tags.parse_tags(fenced) == ["Rhyme", "Meter"]


def test_a_plain_list_parses_without_its_bullets_labels_and_chatter() -> None:
    reply = "Sure! Here are the tags:\n1. Algebra: solving for the unknown x\n- Fractions\n* n/a"
    assert tags.parse_tags(reply) == ["Algebra", "Fractions"]
    assert tags.parse_tags("Tags: unit rates, distance; speed") == [
        "unit rates",
        "distance",
        "speed",
    ]


def test_sentences_and_empty_replies_give_no_tags() -> None:
    assert tags.parse_tags("") == []
    assert tags.parse_tags("This instruction is about writing a very short poem on the sea.") == []
    assert tags.parse_tags("[not json, at all") == ["not json", "at all"]  # read as text


def test_normalising_folds_case_spaces_hyphens_and_plurals() -> None:
    assert tags.normalise("  Linear-Equations ") == "linear equation"
    assert tags.normalise("Probabilities") == "probability"
    assert tags.normalise("Boxes") == "box"
    assert [tags.normalise(w) for w in ("physics", "analysis", "class", "gas")] == [
        "physics",
        "analysis",
        "class",
        "gas",
    ]
    assert tags.normalise_all(["Rhymes", "rhyme", "", "!!", "Meter"], limit=5) == [
        "rhyme",
        "meter",
    ]


def test_relevant_tags_share_words_with_the_seed_and_leave_its_own_out() -> None:
    pool = ["fahrenheit scale", "sea shanty", "rhyme scheme", "poem meter", "tides"]
    ranked = tags.relevant("Write a short poem about the sea.", pool, 3, own=["rhyme scheme"])
    assert ranked[:2] == ["sea shanty", "poem meter"]
    assert "rhyme scheme" not in ranked and len(ranked) == 3


def test_a_budget_of_b_draws_from_the_most_relevant_window() -> None:
    pool = [f"topic {i}" for i in range(20)] + ["sea birds", "sea salt"]
    shortlist = tags.relevant("Describe the sea.", pool, tags.window(2))
    assert shortlist[:2] == ["sea birds", "sea salt"] and len(shortlist) == 5
    assert tags.window(1) == 4 and tags.window(2) == 5 and tags.window(5) == 10


class FakeItem:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.asked: dict[str, Any] = {}

    async def gen(self, template: str, **values: Any) -> Any:
        self.asked = {"template": template, **values}
        return type("Gen", (), {"text": self.reply})()


def test_gen_tags_asks_the_template_and_returns_normalised_tags() -> None:
    it = FakeItem('["Unit Rates", "unit rate", "Speed", "Distance", "Time"]')
    got = asyncio.run(tags.gen_tags(it, "tag", limit=3, instruction="How far?"))
    assert got == ["unit rate", "speed", "distance"]
    assert it.asked["template"] == "tag" and it.asked["instruction"] == "How far?"
    assert it.asked["temperature"] == 0.0
