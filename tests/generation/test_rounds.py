"""Rounds: a method whose loop needs fine-tuning runs one round per run, and the next round
is a new run that names the one it follows (UI, API and start_run)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from curation.projects.models import AuditEvent
from curation.projects.services import ServiceError
from generation.runs.models import Run
from tests.factories import MembershipFactory, ProjectFactory
from tests.generation.test_runs import api

pytestmark = pytest.mark.django_db(transaction=True)

PARAMS = {"n_responses": 2, "judge_samples": 1}


def test_a_next_round_follows_its_previous_run_and_counts_up(bench: Any) -> None:
    first = bench.start("self_rewarding", 1, params=PARAMS)
    second = bench.start("self_rewarding", 1, params=PARAMS, previous_run=first)
    third = bench.start("self_rewarding", 1, params=PARAMS, previous_run=second)
    assert (first.round, second.round, third.round) == (1, 2, 3)
    assert third.previous_run == second and list(first.next_rounds.all()) == [second]
    started = AuditEvent.objects.filter(verb="run.start", object_id=str(second.pk)).get()
    assert started.after["previous_run"] == first.pk


def test_a_next_round_must_use_the_same_recipe_in_the_same_project(bench: Any) -> None:
    first = bench.start("self_rewarding", 1, params=PARAMS)
    with pytest.raises(ServiceError, match="same recipe"):
        bench.start("self_instruct", 1, previous_run=first)
    elsewhere = ProjectFactory(name="Elsewhere")
    MembershipFactory(project=elsewhere, user=bench.owner, role="owner")
    stranger = Run.objects.create(
        project=elsewhere, recipe_id="self_rewarding", recipe_version="2", target_count=1
    )
    with pytest.raises(ServiceError, match="another project"):
        bench.start("self_rewarding", 1, params=PARAMS, previous_run=stranger)


def test_the_api_starts_a_next_round_and_reports_it(bench: Any) -> None:
    first = bench.start("self_rewarding", 1, params=PARAMS)
    body = {
        "recipe": "self_rewarding",
        "seed_set": bench.seed_set.pk,
        "params": PARAMS,
        "target_count": 1,
        "previous_run": first.pk,
    }
    url = f"/api/v1/projects/{bench.project.pk}/runs"
    response = api(bench.owner).post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["round"] == 2 and response.json()["previous_run"] == first.pk
    missing = api(bench.owner).post(
        url, {**body, "previous_run": 999999}, content_type="application/json"
    )
    assert missing.status_code == 400 and "No run 999999" in missing.json()["detail"]


def test_the_run_form_offers_earlier_runs_of_the_recipe_as_previous_rounds(bench: Any) -> None:
    first = bench.start("self_rewarding", 1, params=PARAMS)
    other = bench.start("self_instruct", 1)
    client = Client()
    client.force_login(bench.owner)
    page = client.get(f"/projects/{bench.project.pk}/runs/new/?recipe=self_rewarding")
    html = page.content.decode()
    assert f'value="{first.pk}"' in html and f'value="{other.pk}"' not in html
    response = client.post(
        f"/projects/{bench.project.pk}/runs/new/",
        {
            "recipe": "self_rewarding",
            "seed_set": bench.seed_set.pk,
            "role_policy": bench.endpoint.pk,
            "target_count": 1,
            "previous_run": first.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Run.objects.get(previous_run=first).round == 2


def test_start_run_takes_the_previous_round_by_id(bench: Any, capsys: Any) -> None:
    first = bench.start("self_rewarding", 1, params=PARAMS)
    call_command(
        "start_run",
        "--project",
        str(bench.project.pk),
        "--recipe",
        "self_rewarding",
        "--seed-set",
        str(bench.seed_set.pk),
        "--target",
        "1",
        "--params",
        '{"n_responses": 2, "judge_samples": 1}',
        "--previous-run",
        str(first.pk),
    )
    assert Run.objects.get(previous_run=first).round == 2
