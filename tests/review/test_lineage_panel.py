"""The review page's lineage panel shows what recipes store for review, escaped, with long
model text collapsed; and a classification row's label stands out above the decision."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from curation.projects.models import Role
from curation.review import services
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory

pytestmark = pytest.mark.django_db


def review_page(**sample: Any) -> str:
    project = ProjectFactory()
    curator = UserFactory(username="panel-curator")
    annotator = UserFactory(username="panel-annotator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    SampleFactory(project=project, **sample)
    queue = services.create_queue(curator, project, name="panel")
    client = Client()
    client.force_login(annotator)
    return client.get(f"/queues/{queue.pk}/review/").content.decode()


def test_the_panel_shows_rationale_vote_tags_metadata_gold_and_the_rationalized_flag() -> None:
    page = review_page(
        extra={
            "rationale": "Half of 84 is 42.\n<script>alert(1)</script>",
            "vote": {"answer": "42", "share": 0.625, "count": 20, "of": 32},
            "tags": ["math", "division"],
            "metadata": {"use_case": "tutoring", "budget": {"tokens": 512}},
            "gold": "42",
            "rationalized": False,
        }
    )
    lineage = page.split('<aside class="card lineage">')[1].split("</aside>")[0]
    assert "20 of 32 paths agree: 42 (62.5 %)" in lineage
    assert '<li class="chip">math</li><li class="chip">division</li>' in lineage
    assert (
        "<dt>budget</dt><dd>{&quot;tokens&quot;: 512}</dd><dt>use_case</dt><dd>tutoring</dd>"
        in (lineage)
    )
    assert '<dt>Gold answer</dt><dd data-field="gold"><span class="gold">42</span>' in lineage
    assert '<dt>Rationalized</dt><dd data-field="rationalized">no</dd>' in lineage
    rationale = lineage.split('data-field="rationale">')[1].split("</dd>")[0]
    assert rationale.startswith('<details class="collapsible"><summary>')  # collapsed
    assert "Half of 84 is 42.\n&lt;script&gt;alert(1)&lt;/script&gt;" in rationale
    assert "<script>alert(1)" not in page


def test_the_erased_system_prompt_is_shown_collapsed_beside_the_generic_one() -> None:
    page = review_page(
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is 6 x 7?"},
            {"role": "assistant", "content": "42"},
        ],
        extra={"erased_system_prompt": "Solve it step by step & explain <each> step."},
    )
    erased = page.split('data-field="erased_system_prompt">')[1].split("</dd>")[0]
    assert erased.startswith('<details class="collapsible"><summary>Show the erased system prompt')
    assert "Solve it step by step &amp; explain &lt;each&gt; step." in erased
    assert "You are a helpful assistant." in page  # the stored (generic) prompt, in the transcript


def test_a_plain_sample_shows_no_review_fields_and_no_label() -> None:
    page = review_page()
    assert 'data-field="' not in page and 'id="label-box"' not in page


def test_a_classification_row_shows_its_label_before_the_decision_buttons() -> None:
    page = review_page(
        kind="classification",
        label="negative",
        messages=[{"role": "user", "content": "Broke on day one."}],
        extra={"labels": ["positive", "negative"]},
    )
    box = page.index('id="label-box"')
    assert box < page.index('data-decision="accept"')
    assert '<strong class="label-value" id="current-label">negative</strong>' in page
