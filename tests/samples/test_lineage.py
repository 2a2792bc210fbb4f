"""The sample page's lineage panel shows what recipes store for review, escaped; and the
presenter reads those keys defensively (model output is untrusted in shape too)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.samples.lineage import lineage_extra, metadata, tags, vote
from tests.cast import Cast
from tests.factories import SampleFactory

ORCA_PROMPT = "You are a careful teacher. Think step by step, then answer."
EXTRA = {
    "rationale": "First add 20 and 22. <script>alert('r')</script>",
    "vote": {"answer": "42", "share": 0.625, "count": 20, "of": 32},
    "tags": ["arithmetic", "<b>bold</b>"],
    "metadata": {"strategy": "step-by-step", "budget": 3, "skills": ["add", "carry"]},
    "gold": "42",
    "rationalized": True,
    "erased_system_prompt": ORCA_PROMPT + " <img src=x onerror=alert(1)>",
}


def test_a_vote_reads_as_paths_agreeing_on_an_answer() -> None:
    assert vote(EXTRA["vote"])["text"] == "20 of 32 paths agree: 42 (62.5 %)"
    assert vote({"answer": "yes", "share": 0.5})["text"] == "Majority answer: yes (50 %)"
    assert vote({"answer": 7, "count": 3, "of": 4})["percent"] == "75"
    # The count and total win over a share that disagrees with them.
    assert vote({"answer": "a", "share": 0.9, "count": 1, "of": 4})["text"].endswith("(25 %)")


@pytest.mark.parametrize("raw", [None, "42", [], {"share": "lots"}, {"count": True, "of": 2}])
def test_an_unusable_vote_is_left_out(raw: Any) -> None:
    assert vote(raw) is None


def test_tags_metadata_and_flags_keep_only_what_has_the_right_shape() -> None:
    assert tags(["a", " a ", 3, None, {"x": 1}, ""], ["a", "review"]) == ["a", "3", "review"]
    assert tags("not a list") == []
    assert metadata({"n": 1, "ok": False, "nested": {"b": [1]}, "list": ["x", "y"]}) == [
        ("list", "x, y"),
        ("n", "1"),
        ("nested", '{"b": [1]}'),
        ("ok", "no"),
    ]
    odd = lineage_extra({"rationale": ["not text"], "rationalized": "yes", "gold": "  "})
    assert odd["rationale"] is None and odd["rationalized"] is None and odd["gold"] is None
    assert odd["any"] is False
    assert lineage_extra("not a dict")["any"] is False
    assert lineage_extra({"rationalized": False})["any"] is True  # "no" is worth showing


@pytest.mark.django_db
def test_the_sample_page_shows_each_review_field_escaped(cast: Cast) -> None:
    sample = SampleFactory(project=cast.project, extra=EXTRA, tags=["queue-a"])
    client = Client()
    client.force_login(cast.viewer)
    page = client.get(f"/samples/{sample.pk}/").content.decode()
    assert '<dd class="vote" data-field="vote">20 of 32 paths agree: 42 (62.5 %)</dd>' in page
    assert '<span class="gold">42</span>' in page
    assert "yes, from the gold answer" in page
    chips = '<li class="chip">arithmetic</li><li class="chip">&lt;b&gt;bold&lt;/b&gt;</li>'
    assert chips + '<li class="chip">queue-a</li>' in page
    assert (
        "<dt>budget</dt><dd>3</dd><dt>skills</dt><dd>add, carry</dd>"
        "<dt>strategy</dt><dd>step-by-step</dd>"
    ) in page
    # Long model text starts collapsed, behind a <summary> the keyboard reaches.
    assert '<details class="collapsible"><summary>Show the rationale' in page
    assert '<details class="collapsible" open' not in page
    assert "Show the erased system prompt" in page and ORCA_PROMPT in page
    assert "<script>alert('r')" not in page and "&lt;script&gt;alert(&#x27;r&#x27;)" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


@pytest.mark.django_db
def test_a_sample_without_review_fields_shows_none_of_them(cast: Cast) -> None:
    sample = SampleFactory(project=cast.project, extra={"vote": "garbled", "tags": 5})
    client = Client()
    client.force_login(cast.viewer)
    page = client.get(f"/samples/{sample.pk}/").content.decode()
    assert page.count('data-field="') == 0
