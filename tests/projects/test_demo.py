"""The demo project that `make run` loads."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from curation.projects.models import ModelEndpoint, Project
from curation.seeds.models import Seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    monkeypatch.setenv("SEEDBED_DEMO_PASSWORD", "demo-password-for-tests")
    settings.SEEDBED_LOCAL_MODEL = "small"
    settings.SEEDBED_LLM_BASE_URL = ""


def test_the_demo_has_an_owner_two_annotators_forty_seeds_and_the_local_model(
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
    assert Seed.objects.filter(seed_set__project=project).count() == 40
    endpoint = ModelEndpoint.objects.get(project=project, is_default=True)
    assert endpoint.chat_model == "qwen2.5-coder-0.5b-instruct"
    assert endpoint.base_url == "http://127.0.0.1:8081/v1"


def test_loading_the_demo_twice_changes_nothing(demo_env: None) -> None:
    call_command("load_demo")
    call_command("load_demo")
    assert Project.objects.filter(slug="demo").count() == 1
    assert Seed.objects.count() == 40
    assert ModelEndpoint.objects.count() == 1


def test_the_demo_users_can_log_in_with_the_printed_password(demo_env: None, client: Any) -> None:
    call_command("load_demo")
    assert client.login(username="demo-annotator-1", password="demo-password-for-tests")


def test_the_demo_seeds_are_varied_and_written_in_the_self_instruct_shape(demo_env: None) -> None:
    call_command("load_demo")
    seeds = list(Seed.objects.all())
    assert all(s.kind == "instruction" and s.payload["instances"] for s in seeds)
    classification = [s for s in seeds if s.payload.get("is_classification")]
    with_input = [s for s in seeds if s.payload["instances"][0]["input"]]
    assert len(classification) >= 5
    assert 10 <= len(with_input) <= 35
