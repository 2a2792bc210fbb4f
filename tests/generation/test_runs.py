"""Runs: the status machine, budgets, failing endpoints, progress and the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from curation.projects.models import AuditEvent, LLMCall
from curation.projects.services import issue_api_token, save_endpoint
from curation.samples.models import Sample
from generation.recipes.registry import get_recipe
from generation.runs import services
from generation.runs.driver import drive
from generation.runs.models import Run, RunStatus
from tests.generation.conftest import varied_judge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _judge_scores_vary(fake_llm: Any) -> None:
    fake_llm.script(r"additive 5-point", varied_judge)


def api(user: Any) -> Client:
    _, token = issue_api_token(user, "t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def queued_run(bench: Any, recipe: str = "self_rewarding", target: int = 3, **kw: Any) -> Run:
    """A run created without its driver running (as if the worker were busy)."""
    return Run.objects.create(
        project=bench.project,
        recipe_id=recipe,
        recipe_version=get_recipe(recipe).version,
        seed_set=bench.seed_set,
        endpoint=bench.endpoint,
        target_count=target,
        params=kw.pop("params", {}),
        **kw,
    )


def test_the_api_starts_a_run_and_reports_the_documented_fields(bench: Any) -> None:
    response = api(bench.owner).post(
        f"/api/v1/projects/{bench.project.pk}/runs",
        {
            "recipe": "self_rewarding",
            "seed_set": bench.seed_set.pk,
            "endpoint": bench.endpoint.pk,
            "params": {"n_responses": 2, "judge_samples": 1},
            "target_count": 2,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    body = api(bench.owner).get(f"/api/v1/runs/{run_id}").json()
    for field in (
        "target",
        "produced",
        "filtered",
        "failed",
        "tokens_in",
        "tokens_out",
        "cost",
        "samples_per_s",
        "eta_s",
        "status",
        "progress",
        "notes",
        "round",
        "previous_run",
    ):
        assert field in body
    assert body["status"] == "completed"  # eager Celery in tests: the run already ran
    assert body["produced"] == 2
    assert body["tokens_in"] > 0 and Decimal(str(body["cost"])) > 0
    assert body["samples_per_s"] > 0
    assert LLMCall.objects.filter(run_id=run_id, status="ok").count() > 0


def test_bad_params_are_refused_with_the_field_named(bench: Any) -> None:
    response = api(bench.owner).post(
        f"/api/v1/projects/{bench.project.pk}/runs",
        {
            "recipe": "self_rewarding",
            "seed_set": bench.seed_set.pk,
            "params": {"n_responses": 1, "colour": "red"},
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "n_responses" in detail and "colour" in detail
    assert not Run.objects.exists()


def test_an_unknown_recipe_is_refused(bench: Any) -> None:
    response = api(bench.owner).post(
        f"/api/v1/projects/{bench.project.pk}/runs",
        {"recipe": "nope"},
        content_type="application/json",
    )
    assert response.status_code == 422  # the schema lists the recipes
    assert "self_instruct" in str(response.json()["detail"])


def test_the_recipe_registry_lists_the_four_recipes_with_schemas(bench: Any) -> None:
    recipes = {r["id"]: r for r in api(bench.owner).get("/api/v1/recipes").json()}
    assert {"self_instruct", "evol_instruct", "self_rewarding", "constitutional_ai"} <= set(recipes)
    si = recipes["self_instruct"]
    assert si["methods_entry"] == 24
    assert si["output_kind"] == "sft"
    assert si["defaults"]["rouge_threshold"] == 0.7
    assert si["params_schema"]["properties"]["in_context"]["default"] == 8
    assert recipes["self_rewarding"]["defaults"]["n_responses"] == 4


def test_pause_resume_and_cancel_follow_the_status_machine(bench: Any) -> None:
    run = queued_run(bench)
    client = api(bench.owner)
    assert client.post(f"/api/v1/runs/{run.pk}/pause").json()["status"] == "paused"
    # A paused run is not driven.
    assert drive(run.pk).again is False
    assert Run.objects.get(pk=run.pk).produced == 0
    assert client.post(f"/api/v1/runs/{run.pk}/resume").json()["status"] in ("queued", "completed")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.produced == 3
    response = client.post(f"/api/v1/runs/{run.pk}/cancel")
    assert response.status_code == 409
    assert "completed run cannot be cancelled" in response.json()["detail"]
    verbs = set(
        AuditEvent.objects.filter(object_id=str(run.pk), object_type="runs.run").values_list(
            "verb", flat=True
        )
    )
    assert {"run.pause", "run.resume"} <= verbs


def test_a_cancelled_run_stops_and_keeps_what_it_made(bench: Any) -> None:
    run = queued_run(bench)
    services.cancel_run(bench.owner, run)
    assert drive(run.pk).status == RunStatus.CANCELLED
    assert Run.objects.get(pk=run.pk).finished_at is not None


def test_a_token_budget_ends_the_run_as_budget_exhausted(bench: Any) -> None:
    run = bench.start("self_rewarding", 50, budget_tokens=300)
    assert run.status == RunStatus.BUDGET_EXHAUSTED
    assert run.produced < 50
    assert run.tokens_in + run.tokens_out >= 300
    assert "budget" in run.last_error
    # Resuming without raising the budget is refused; raising it lets it go on.
    with pytest.raises(services.ServiceError, match="budget"):
        services.resume_run(bench.owner, run)
    services.set_budget(bench.owner, run, 10**9, None)
    services.resume_run(bench.owner, Run.objects.get(pk=run.pk))
    assert Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED


def test_a_cost_budget_counts_the_endpoint_prices(bench: Any) -> None:
    run = bench.start("self_rewarding", 50, budget_cost=Decimal("0.0005"))
    assert run.status == RunStatus.BUDGET_EXHAUSTED
    assert run.cost >= Decimal("0.0005")


def test_an_endpoint_that_always_fails_ends_the_run_as_failed_with_a_clear_error(
    bench: Any, fake_llm: Any
) -> None:
    fake_llm.fault("500", times=-1)
    run = bench.start("self_rewarding", 5)
    assert run.status == RunStatus.FAILED
    assert "times in a row with no success" in run.last_error
    assert "500" in run.last_error
    assert run.finished_at is not None
    errors = LLMCall.objects.filter(run=run, status="error").count()
    assert errors == run.failed, (errors, run.failed, run.filtered)


def test_an_unreachable_endpoint_fails_the_run_instead_of_hanging(bench: Any) -> None:
    dead = save_endpoint(
        bench.owner, bench.project, name="dead", base_url="http://127.0.0.1:9/v1", chat_model="x"
    )
    run = services.start_run(
        bench.owner,
        bench.project,
        recipe_id="self_rewarding",
        endpoint=dead,
        seed_set=bench.seed_set,
        target_count=2,
    )
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "Connection" in run.last_error


def test_every_sample_carries_its_lineage(bench: Any, fake_llm: Any) -> None:
    from tests.generation.conftest import varied_judge

    fake_llm.script(r"additive 5-point", varied_judge)
    run = bench.start("self_rewarding", 2)
    samples = list(Sample.objects.filter(run=run))
    assert len(samples) == 2, run.last_error
    for sample in samples:
        assert sample.recipe_id == "self_rewarding" and sample.recipe_version == "2"
        assert sample.prompt_version == "builtin:v1"  # the respond template
        assert sample.model == "fake-model"
        assert sample.seed_ids
        assert sample.tokens_in > 0 and sample.work_key
        calls = sample.extra["lineage"]["calls"]
        # new prompt, 4 responses in one call, 4 judge calls: every call with its role.
        assert [c["role"] for c in calls].count("judge") == 4
        assert {c["template"] for c in calls} == {"new_prompt", "respond", "additive_5pt"}
        assert sample.extra["lineage"]["prompts"]["new_prompt"] == "builtin:v2"
    # Token accounting is the kit's: the samples' tokens add up to the producing calls'.
    assert sum(s.tokens_in + s.tokens_out for s in samples) <= run.tokens_in + run.tokens_out


def test_a_second_driver_for_the_same_run_does_nothing_while_the_first_holds_it(
    bench: Any,
) -> None:
    from generation.runs.lease import acquire_lease

    run = queued_run(bench)
    token = acquire_lease(run.pk)
    assert token is not None
    assert acquire_lease(run.pk) is None
    assert drive(run.pk).again is False
    assert Run.objects.get(pk=run.pk).produced == 0


def test_a_prompt_override_gets_its_own_version_and_runs_use_it(bench: Any, fake_llm: Any) -> None:
    client = api(bench.owner)
    response = client.post(
        f"/api/v1/projects/{bench.project.pk}/prompts",
        {"recipe": "self_rewarding", "name": "respond", "text": "Answer briefly: {{prompt}}"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["version"] == "project:p1"
    bad = client.post(
        f"/api/v1/projects/{bench.project.pk}/prompts",
        {"recipe": "self_rewarding", "name": "respond", "text": "{{prompt}} {{secret}}"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "secret" in bad.json()["detail"]
    run = bench.start("self_rewarding", 1)
    assert run.samples.get().prompt_version == "project:p1"
    assert any(
        r["messages"][-1]["content"].startswith("Answer briefly:") for r in fake_llm.requests
    )
    listed = client.get(f"/api/v1/projects/{bench.project.pk}/prompts?recipe=self_rewarding").json()
    assert {p["name"]: p["version"] for p in listed}["respond"] == "project:p1"


def test_the_judge_action_writes_judgements_for_a_run(bench: Any, fake_llm: Any) -> None:
    run = bench.start("evol_instruct", 3, params={"rounds": 1, "equality_check": False})
    response = api(bench.owner).post(
        f"/api/v1/projects/{bench.project.pk}/judge",
        {"run_id": run.pk},
        content_type="application/json",
    )
    assert response.status_code == 202
    assert response.json()["queued"] == run.produced
    from curation.samples.models import Judgement

    judged = Sample.objects.filter(run=run, judge_score__isnull=False)
    assert judged.count() == run.produced
    assert (
        Judgement.objects.filter(sample__run=run, rubric_id="additive_5pt").count() == run.produced
    )


def test_endpoints_are_created_through_the_api_and_keys_never_come_back(
    bench: Any, fake_llm: Any
) -> None:
    client = api(bench.owner)
    response = client.post(
        f"/api/v1/projects/{bench.project.pk}/endpoints",
        {
            "name": "second",
            "base_url": fake_llm.base_url,
            "api_key": "sk-abcdefgh12345678",
            "chat_model": "fake-model",
            "max_concurrency": 4,
            "rpm": 600,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert "sk-abcdefgh12345678" not in response.content.decode()
    assert response.json()["key"] == "…5678"
    listed = client.get(f"/api/v1/projects/{bench.project.pk}/endpoints").content.decode()
    assert "sk-abcdefgh12345678" not in listed
    tested = client.post(f"/api/v1/endpoints/{response.json()['id']}/test").json()
    assert tested["ok"] is True and "fake-model" in tested["models"]


def test_testing_a_dead_endpoint_reports_the_error(bench: Any) -> None:
    dead = save_endpoint(
        bench.owner, bench.project, name="dead", base_url="http://127.0.0.1:9/v1", chat_model="x"
    )
    tested = api(bench.owner).post(f"/api/v1/endpoints/{dead.pk}/test").json()
    assert tested["ok"] is False and "unreachable" in tested["error"]
