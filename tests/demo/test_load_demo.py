"""The demo project that `make run` loads."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from curation.projects.models import ModelEndpoint, Project
from curation.review.models import ReviewQueue
from curation.samples.models import Sample
from curation.seeds.models import Seed, SeedSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    monkeypatch.setenv("SEEDBED_DEMO_PASSWORD", "demo-password-for-tests")
    settings.SEEDBED_LOCAL_MODEL = "small"
    settings.SEEDBED_LLM_BASE_URL = ""


def test_the_demo_has_an_owner_two_annotators_its_seed_sets_and_the_local_model(
    demo_env: None,
) -> None:
    call_command("load_demo")
    project = Project.objects.get(slug="demo")
    roles = dict(project.memberships.values_list("user__username", "role"))
    assert roles == {
        "demo-owner": "owner",
        "demo-annotator-1": "annotator",
        "demo-annotator-2": "annotator",
    }
    sets = dict(SeedSet.objects.filter(project=project).values_list("name", "kinds"))
    assert sets == {
        "Demo seeds": ["instruction"],
        "Demo QA": ["qa"],
        "Demo sentiment": ["labelled"],
        "Demo documents": ["document"],
        "Demo events": ["text"],
        "Demo words": ["word_list"],
        "Demo workflows": ["persona", "workflow"],
        "Demo personas": ["persona"],
        "Demo CAMEL ideas": ["text"],
        "Demo tools": ["tool_spec"],
        "Demo APIs": ["tool_spec"],
        "Demo tool briefs": ["tool_spec"],
        "Demo images": ["document"],
        "Demo KG": ["kg_triple"],
        "Demo IF constraints": ["instruction"],
        "Demo document questions": ["document", "qa"],
        "Demo GUI trajectories": ["conversation"],
        "Demo env tasks": ["env_task"],
    }
    assert Seed.objects.filter(seed_set__name="Demo seeds").count() == 40
    endpoint = ModelEndpoint.objects.get(project=project, is_default=True)
    assert endpoint.chat_model == "qwen2.5-coder-0.5b-instruct"
    assert endpoint.base_url == "http://127.0.0.1:8081/v1"


def test_loading_the_demo_twice_changes_nothing(demo_env: None) -> None:
    call_command("load_demo")
    call_command("load_demo")
    assert Project.objects.filter(slug="demo").count() == 1
    assert SeedSet.objects.count() == 18
    assert Seed.objects.filter(seed_set__name="Demo seeds").count() == 40
    assert Sample.objects.count() == 9
    assert ReviewQueue.objects.count() == 1
    assert ModelEndpoint.objects.count() == 1


def test_the_demo_users_can_log_in_with_the_printed_password(demo_env: None, client: Any) -> None:
    call_command("load_demo")
    assert client.login(username="demo-annotator-1", password="demo-password-for-tests")


def test_the_demo_seeds_are_varied_and_written_in_the_self_instruct_shape(demo_env: None) -> None:
    call_command("load_demo")
    seeds = list(Seed.objects.filter(seed_set__name="Demo seeds"))
    assert all(s.kind == "instruction" and s.payload["instances"] for s in seeds)
    classification = [s for s in seeds if s.payload.get("is_classification")]
    with_input = [s for s in seeds if s.payload["instances"][0]["input"]]
    assert len(classification) >= 5
    assert 10 <= len(with_input) <= 35


def test_every_qa_seed_has_a_gold_answer_and_every_review_one_of_two_labels(
    demo_env: None,
) -> None:
    call_command("load_demo")
    qa = list(Seed.objects.filter(seed_set__name="Demo QA"))
    assert len(qa) >= 10 and all(s.payload["answer"].strip() for s in qa)
    assert sum(bool(s.payload.get("rationale")) for s in qa) >= 3
    labels = {s.payload["label"] for s in Seed.objects.filter(seed_set__name="Demo sentiment")}
    assert labels == {"positive", "negative"}


def test_a_first_visit_finds_ready_samples_of_three_kinds_in_a_review_queue(
    demo_env: None,
) -> None:
    call_command("load_demo")
    kinds = sorted(Sample.objects.values_list("kind", flat=True))
    assert kinds == ["classification"] * 3 + ["preference"] * 2 + ["sft"] * 4
    queue = ReviewQueue.objects.get(name="Demo review")
    assert queue.items.count() == 9 and queue.overlap == 2
    pair = Sample.objects.filter(kind="preference").first()
    assert pair is not None and pair.chosen and pair.rejected
    assert set(Sample.objects.filter(kind="classification").values_list("label", flat=True)) == {
        "positive",
        "negative",
    }
