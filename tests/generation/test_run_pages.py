"""Starting runs with roles, typed inputs and a futility limit; why a run's items made nothing.

Through the form, the API and `manage.py start_run`. Runs here are only created: the tests
are not transactional, so the driver (enqueued on commit) does not run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from curation.projects import services as project_services
from curation.projects.models import ModelEndpoint
from curation.seeds.models import SeedSet
from curation.seeds.services import import_seed_set
from generation.runs.models import Run, RunItem, RunStatus
from tests.generation.conftest import Bench

pytestmark = pytest.mark.django_db

QA_LINES = b'{"question": "What is 2 + 2?", "answer": "4"}\n'
DOC_LINES = b'{"title": "Bees", "text": "Bees pollinate crops.", "source": "notes"}\n'


@pytest.fixture
def judge(bench: Bench) -> ModelEndpoint:
    return project_services.save_endpoint(
        bench.owner,
        bench.project,
        name="judge",
        base_url=bench.endpoint.base_url,
        chat_model="judge-model",
    )


def page(bench: Bench) -> Client:
    client = Client()
    client.force_login(bench.owner)
    return client


def api(bench: Bench, api_client_for: Any) -> Client:
    client: Client = api_client_for(bench.owner)
    return client


def post_run(client: Client, bench: Bench, **body: Any) -> Any:
    payload = {"recipe": "self_rewarding", "seed_set": bench.seed_set.pk, "target_count": 2}
    payload.update(body)
    return client.post(
        f"/api/v1/projects/{bench.project.pk}/runs", payload, content_type="application/json"
    )


def form_data(bench: Bench, **fields: Any) -> dict[str, Any]:
    data = {"recipe": "self_rewarding", "seed_set": bench.seed_set.pk, "target_count": 2}
    data.update(fields)
    return data


# -- roles -------------------------------------------------------------------------------------


def test_the_run_form_shows_one_endpoint_select_per_role(bench: Bench, judge: Any) -> None:
    body = page(bench).get(f"/projects/{bench.project.pk}/runs/new/?recipe=self_rewarding")
    html = body.content.decode()
    assert 'name="role_policy"' in html and 'name="role_judge"' in html
    assert 'name="endpoint"' not in html and 'name="judge_endpoint"' not in html
    assert "(defaults to policy)" in html
    assert "max(200, 5 × target)" in html
    assert 'name="futility_limit"' in html


def test_the_run_form_maps_each_role_to_its_endpoint(bench: Bench, judge: Any) -> None:
    response = page(bench).post(
        f"/projects/{bench.project.pk}/runs/new/?recipe=self_rewarding",
        form_data(bench, role_policy=bench.endpoint.pk, role_judge=judge.pk, futility_limit=40),
    )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.endpoints == {"policy": bench.endpoint.pk, "judge": judge.pk}
    assert run.endpoint_id == bench.endpoint.pk and run.judge_endpoint_id == judge.pk
    assert run.futility_limit == 40


def test_an_optional_role_left_blank_in_the_form_follows_its_fallback(bench: Bench) -> None:
    page(bench).post(
        f"/projects/{bench.project.pk}/runs/new/?recipe=self_rewarding",
        form_data(bench, role_policy=bench.endpoint.pk),
    )
    run = Run.objects.get()
    assert run.endpoints == {"policy": bench.endpoint.pk, "judge": bench.endpoint.pk}
    assert run.futility_limit is None


def test_a_required_role_left_blank_is_a_form_error(bench: Bench) -> None:
    response = page(bench).post(
        f"/projects/{bench.project.pk}/runs/new/?recipe=self_rewarding",
        form_data(bench, role_policy=""),
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Run.objects.exists()


def test_a_service_refusal_shows_as_a_form_error(bench: Bench) -> None:
    response = page(bench).post(
        f"/projects/{bench.project.pk}/runs/new/?recipe=self_rewarding",
        form_data(bench, role_policy=bench.endpoint.pk, p_n_responses=1),
    )
    assert response.status_code == 200
    assert "greater than or equal to 2" in response.content.decode()
    assert not Run.objects.exists()


def test_the_api_maps_roles_and_reports_them_with_the_futility_limit(
    bench: Bench, judge: Any, api_client_for: Any
) -> None:
    client = api(bench, api_client_for)
    response = post_run(
        client,
        bench,
        endpoints={"policy": bench.endpoint.pk, "judge": judge.pk},
        futility_limit=25,
    )
    assert response.status_code == 201, response.content
    body = client.get(f"/api/v1/runs/{response.json()['id']}").json()
    assert body["endpoints"] == {
        "policy": {"id": bench.endpoint.pk, "name": "fake", "model": "fake-model"},
        "judge": {"id": judge.pk, "name": "judge", "model": "judge-model"},
    }
    assert body["futility_limit"] == 25
    assert body["endpoint"] == bench.endpoint.pk and body["judge_endpoint"] == judge.pk


def test_the_api_still_takes_endpoint_and_judge_endpoint(
    bench: Bench, judge: Any, api_client_for: Any
) -> None:
    response = post_run(
        api(bench, api_client_for), bench, endpoint=bench.endpoint.pk, judge_endpoint=judge.pk
    )
    assert response.status_code == 201, response.content
    assert response.json()["endpoints"]["judge"]["name"] == "judge"
    assert response.json()["futility_limit"] is None


def test_the_api_refuses_a_role_the_recipe_does_not_have(
    bench: Bench, judge: Any, api_client_for: Any
) -> None:
    response = post_run(api(bench, api_client_for), bench, endpoints={"teacher": judge.pk})
    assert response.status_code == 400
    assert "no role teacher" in response.json()["detail"]
    assert not Run.objects.exists()


def test_the_api_refuses_an_endpoint_of_another_project(
    bench: Bench, cast: Any, api_client_for: Any
) -> None:
    foreign = project_services.save_endpoint(
        cast.owner, cast.project, name="theirs", base_url="http://127.0.0.1:9/v1", chat_model="m"
    )
    response = post_run(api(bench, api_client_for), bench, endpoints={"judge": foreign.pk})
    assert response.status_code == 400
    assert f"No endpoint {foreign.pk} in this project" in response.json()["detail"]


def test_the_api_refuses_a_futility_limit_below_one(bench: Bench, api_client_for: Any) -> None:
    response = post_run(api(bench, api_client_for), bench, futility_limit=0)
    assert response.status_code == 422  # the schema states the bound
    assert response.json()["detail"][0]["loc"][-1] == "futility_limit"


def test_the_command_maps_roles_and_sets_the_futility_limit(bench: Bench, judge: Any) -> None:
    out = call_start_run(bench, "--endpoint", "judge=judge", "--endpoint", "fake")
    run = Run.objects.get()
    assert run.endpoints == {"policy": bench.endpoint.pk, "judge": judge.pk}
    assert run.futility_limit == 9
    assert "policy=fake, judge=judge" in out


def test_the_command_takes_a_plain_endpoint_as_the_policy(bench: Bench, judge: Any) -> None:
    call_start_run(bench, "--endpoint", str(judge.pk))
    assert Run.objects.get().endpoints == {"policy": judge.pk, "judge": judge.pk}


def test_the_command_refuses_an_unknown_role_with_the_services_message(
    bench: Bench, judge: Any
) -> None:
    with pytest.raises(CommandError, match="no role critic"):
        call_start_run(bench, "--endpoint", "critic=judge")
    with pytest.raises(CommandError, match="No endpoint 'nope'"):
        call_start_run(bench, "--endpoint", "judge=nope")
    assert not Run.objects.exists()


def call_start_run(bench: Bench, *args: str) -> str:
    import io

    out = io.StringIO()
    call_command(
        "start_run",
        "--project",
        bench.project.slug,
        "--recipe",
        "self_rewarding",
        "--seed-set",
        str(bench.seed_set.pk),
        "--target",
        "2",
        "--futility-limit",
        "9",
        *args,
        stdout=out,
    )
    return out.getvalue()


# -- typed inputs ------------------------------------------------------------------------------


def seed_sets(bench: Bench) -> tuple[SeedSet, SeedSet]:
    qa = import_seed_set(bench.owner, bench.project, name="Maths", data=QA_LINES)
    doc = import_seed_set(bench.owner, bench.project, name="Docs", data=DOC_LINES)
    assert qa.kinds == ["qa"] and doc.kinds == ["document"]
    return qa, doc


def offered(bench: Bench, recipe: str) -> str:
    """The form's seed-set select, and the hint after it."""
    client = page(bench)
    html = client.get(f"/projects/{bench.project.pk}/runs/new/?recipe={recipe}").content.decode()
    start = html.index('name="seed_set"')
    return html[start : html.index("</p>", start)]


def test_the_run_form_offers_only_seed_sets_of_kinds_the_recipe_reads(bench: Bench) -> None:
    qa, doc = seed_sets(bench)
    self_instruct = offered(bench, "self_instruct")
    assert f'<option value="{bench.seed_set.pk}"' in self_instruct
    assert f'<option value="{qa.pk}"' not in self_instruct
    assert f'<option value="{doc.pk}"' not in self_instruct
    assert "Reads seeds of kind <code>instruction</code>" in self_instruct
    self_rewarding = offered(bench, "self_rewarding")
    assert f'<option value="{qa.pk}"' in self_rewarding
    assert f'<option value="{doc.pk}"' not in self_rewarding


def test_the_api_refuses_a_seed_set_of_the_wrong_kind_with_a_400(
    bench: Bench, api_client_for: Any
) -> None:
    qa, _doc = seed_sets(bench)
    response = post_run(api(bench, api_client_for), bench, recipe="self_instruct", seed_set=qa.pk)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "instruction" in detail and "qa" in detail and "Maths" in detail
    assert not Run.objects.exists()


# -- why items made nothing --------------------------------------------------------------------


def futile_run(bench: Bench) -> Run:
    run = Run.objects.create(
        project=bench.project,
        recipe_id="self_instruct",
        recipe_version="2",
        seed_set=bench.seed_set,
        endpoint=bench.endpoint,
        target_count=5,
        status=RunStatus.FAILED,
        filtered={"no_valid_instances": 4, "rouge_l": 1},
        failed=1,
        last_error="Stopped as futile: 6 finished items in a row produced no sample. "
        "Top filter reasons: no_valid_instances (4), rouge_l (1); 1 items failed. "
        "The run page shows example outputs per reason.",
    )
    for i in range(4):
        RunItem.objects.create(
            run=run,
            work_key=f"seed:{i}",
            outcome="filtered",
            reason="no_valid_instances",
            detail=f"no instance in reply {i}",
            raw_output=f"<script>alert({i})</script> Task: nonsense {i}",
        )
    RunItem.objects.create(
        run=run, work_key="seed:9", outcome="failed", reason="llm_error", detail="HTTP 500"
    )
    RunItem.objects.create(run=run, work_key="seed:10", outcome="produced")
    return run


def test_the_run_page_shows_example_outputs_per_filter_reason(bench: Bench) -> None:
    run = futile_run(bench)
    html = page(bench).get(f"/runs/{run.pk}/").content.decode()
    assert 'id="filtered"' in html and 'href="#filtered"' in html
    section = html[html.index('id="filtered"') :]
    assert "<code>no_valid_instances</code>" in section and "4 items" in section
    assert section.count("Task: nonsense") == 3  # the newest three of four
    assert "Task: nonsense 3" in section and "Task: nonsense 0" not in section
    assert "no instance in reply 3" in section
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in section and "<script>alert" not in html
    assert '<pre class="raw-output">' in section
    assert "<code>llm_error</code>" in section and "HTTP 500" in section
    # rouge_l was counted but left no item row: said so, not hidden
    assert "<code>rouge_l</code>" in section and "No example kept" in section


def test_the_run_page_without_filtered_items_has_no_examples_section(bench: Bench) -> None:
    run = Run.objects.create(
        project=bench.project, recipe_id="self_instruct", recipe_version="2", target_count=2
    )
    html = page(bench).get(f"/runs/{run.pk}/").content.decode()
    assert 'id="filtered"' not in html and 'href="#filtered"' not in html


def test_the_run_page_costs_the_same_queries_with_more_reasons(
    bench: Bench, django_assert_max_num_queries: Any
) -> None:
    run = futile_run(bench)
    client = page(bench)
    with django_assert_max_num_queries(9):
        client.get(f"/runs/{run.pk}/")
    run.filtered.update({f"reason_{i}": 2 for i in range(10)})
    run.save()
    for i in range(10):
        for j in range(4):
            RunItem.objects.create(
                run=run, work_key=f"more:{i}:{j}", outcome="filtered", reason=f"reason_{i}"
            )
    with django_assert_max_num_queries(9):
        client.get(f"/runs/{run.pk}/")


def test_the_items_api_pages_through_filtered_items_by_reason(
    bench: Bench, api_client_for: Any, django_assert_max_num_queries: Any
) -> None:
    run = futile_run(bench)
    client = api(bench, api_client_for)
    url = f"/api/v1/runs/{run.pk}/items?outcome=filtered&reason=no_valid_instances&page_size=3"
    with django_assert_max_num_queries(6):
        first = client.get(url).json()
    assert first["count"] == 4 and first["pages"] == 2 and first["page"] == 1
    item = first["results"][0]
    assert set(item) == {
        "work_key",
        "outcome",
        "reason",
        "detail",
        "raw_output",
        "attempts",
        "created_at",
    }
    assert item["work_key"] == "seed:3" and item["raw_output"].startswith("<script>")
    second = client.get(url + "&page=2").json()
    assert [i["work_key"] for i in second["results"]] == ["seed:0"]
    failed = client.get(f"/api/v1/runs/{run.pk}/items?outcome=failed").json()
    assert [(i["reason"], i["detail"]) for i in failed["results"]] == [("llm_error", "HTTP 500")]
    assert client.get(f"/api/v1/runs/{run.pk}/items").json()["count"] == 6


def test_the_items_api_refuses_an_unknown_outcome(bench: Bench, api_client_for: Any) -> None:
    run = futile_run(bench)
    response = api(bench, api_client_for).get(f"/api/v1/runs/{run.pk}/items?outcome=lost")
    assert response.status_code == 422  # the schema lists the outcomes
    assert "filtered" in str(response.json()["detail"])


def test_the_items_api_is_hidden_from_outsiders_and_open_to_viewers(
    bench: Bench, cast: Any, api_client_for: Any
) -> None:
    from tests.factories import MembershipFactory

    run = futile_run(bench)
    MembershipFactory(project=bench.project, user=cast.viewer, role="viewer")
    assert api_client_for(cast.outsider).get(f"/api/v1/runs/{run.pk}/items").status_code == 404
    assert api_client_for(cast.viewer).get(f"/api/v1/runs/{run.pk}/items").status_code == 200


# -- list views keep their query counts --------------------------------------------------------


def many_runs(bench: Bench, judge: ModelEndpoint, n: int) -> None:
    for i in range(n):
        Run.objects.create(
            project=bench.project,
            recipe_id="self_rewarding",
            recipe_version="2",
            seed_set=bench.seed_set,
            endpoint=bench.endpoint,
            judge_endpoint=judge,
            endpoints={"policy": bench.endpoint.pk, "judge": judge.pk},
            target_count=3,
            name=f"run {i}",
        )


def test_the_runs_page_costs_the_same_queries_for_many_runs(
    bench: Bench, judge: Any, django_assert_max_num_queries: Any
) -> None:
    many_runs(bench, judge, 3)
    client = page(bench)
    with django_assert_max_num_queries(4):
        assert client.get(f"/projects/{bench.project.pk}/runs/").status_code == 200
    many_runs(bench, judge, 30)
    with django_assert_max_num_queries(4):
        assert "run 29" in client.get(f"/projects/{bench.project.pk}/runs/").content.decode()


def test_the_runs_api_loads_every_runs_endpoints_in_one_query(
    bench: Bench, judge: Any, api_client_for: Any, django_assert_max_num_queries: Any
) -> None:
    many_runs(bench, judge, 30)
    client = api(bench, api_client_for)
    with django_assert_max_num_queries(5):
        runs = client.get(f"/api/v1/projects/{bench.project.pk}/runs").json()
    assert len(runs) == 30
    assert {json.dumps(r["endpoints"], sort_keys=True) for r in runs} == {
        json.dumps(
            {
                "judge": {"id": judge.pk, "model": "judge-model", "name": "judge"},
                "policy": {"id": bench.endpoint.pk, "model": "fake-model", "name": "fake"},
            },
            sort_keys=True,
        )
    }
