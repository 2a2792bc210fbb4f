"""Every view and API endpoint, tried by the owner, an annotator and an outsider.

Rules: an outsider (not a member) gets 404, a member whose role is too low gets 403,
and an anonymous visitor is sent to log in (pages) or gets 401 (API).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from curation.exports.models import Export
from curation.projects.models import Role
from curation.review.models import ReviewQueue
from tests.cast import Cast
from tests.factories import (
    EndpointFactory,
    RunFactory,
    SampleFactory,
    SeedFactory,
    SeedSetFactory,
)

pytestmark = pytest.mark.django_db

SEED_JSONL = b'{"instruction": "Say hi.", "input": "", "output": "hi"}\n'


def objects(cast: Cast) -> dict[str, Any]:
    seed_set = SeedSetFactory(project=cast.project, name="Existing", seed_count=1)
    SeedFactory(seed_set=seed_set)
    doomed = SeedSetFactory(project=cast.project, name="Doomed")
    member = cast.project.memberships.get(user=cast.viewer)
    sample = SampleFactory(project=cast.project)
    endpoint = EndpointFactory(project=cast.project, is_default=True)
    run = RunFactory(project=cast.project, endpoint=endpoint, seed_set=seed_set)
    queue = ReviewQueue.objects.create(project=cast.project, name="Queue")
    export = Export.objects.create(project=cast.project, version=1, format="openai")
    return {
        "v": export.pk,
        "p": cast.project.pk,
        "s": seed_set.pk,
        "d": doomed.pk,
        "m": member.pk,
        "x": sample.pk,
        "e": endpoint.pk,
        "r": run.pk,
        "q": queue.pk,
    }


def endpoint_form(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "new",
        "base_url": "http://127.0.0.1:9/v1",
        "chat_model": "m",
        "max_concurrency": 2,
        "price_in_per_1k": 0,
        "price_out_per_1k": 0,
    }


# (name, method, url template, minimum role, body builder)
Body = Callable[[dict[str, Any]], dict[str, Any]] | None


def upload_body(o: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Uploaded", "file": io.BytesIO(SEED_JSONL)}


def dataset_body(o: dict[str, Any]) -> dict[str, Any]:
    return {"file": io.BytesIO(b'{"text": "a", "label": "b"}\n'), "format": "auto"}


def export_body(o: dict[str, Any]) -> dict[str, Any]:
    return {"format": "openai", "filters": {"statuses": ["pending"]}}


PAGES: list[tuple[str, str, str, str, Body]] = [
    ("project detail", "get", "/projects/{p}/", Role.VIEWER, None),
    ("members page", "get", "/projects/{p}/members/", Role.VIEWER, None),
    (
        "add member",
        "post",
        "/projects/{p}/members/",
        Role.OWNER,
        lambda o: {"username": "alpha-viewer", "role": "annotator"},
    ),
    ("remove member", "post", "/projects/{p}/members/{m}/remove/", Role.OWNER, lambda o: {}),
    ("audit log", "get", "/projects/{p}/audit/", Role.CURATOR, None),
    ("seed upload form", "get", "/projects/{p}/seeds/upload/", Role.CURATOR, None),
    ("seed upload", "post", "/projects/{p}/seeds/upload/", Role.CURATOR, upload_body),
    ("seed set page", "get", "/seed-sets/{s}/", Role.VIEWER, None),
    ("seed set search fragment", "get", "/seed-sets/{s}/?q=haiku", Role.VIEWER, None),
    ("seed set delete", "post", "/seed-sets/{d}/delete/", Role.CURATOR, lambda o: {}),
    ("sample list", "get", "/projects/{p}/samples/?status=pending", Role.VIEWER, None),
    ("sample page", "get", "/samples/{x}/", Role.VIEWER, None),
    ("run list", "get", "/projects/{p}/runs/", Role.VIEWER, None),
    ("run form", "get", "/projects/{p}/runs/new/?recipe=self_instruct", Role.CURATOR, None),
    ("run page", "get", "/runs/{r}/", Role.VIEWER, None),
    ("run pause", "post", "/runs/{r}/pause/", Role.CURATOR, lambda o: {}),
    ("run judge", "post", "/runs/{r}/judge/", Role.CURATOR, lambda o: {}),
    ("endpoints page", "get", "/projects/{p}/endpoints/", Role.VIEWER, None),
    ("endpoint save", "post", "/projects/{p}/endpoints/", Role.OWNER, endpoint_form),
    ("endpoint test", "post", "/endpoints/{e}/test/", Role.CURATOR, lambda o: {}),
    ("prompts page", "get", "/projects/{p}/recipes/self_rewarding/prompts/", Role.VIEWER, None),
    ("queue list", "get", "/projects/{p}/queues/", Role.VIEWER, None),
    ("queue page", "get", "/queues/{q}/", Role.VIEWER, None),
    ("review page", "get", "/queues/{q}/review/", Role.ANNOTATOR, None),
    (
        "add question",
        "post",
        "/queues/{q}/questions/",
        Role.CURATOR,
        lambda o: {"type": "text", "id": "note"},
    ),
    ("bulk page", "get", "/projects/{p}/samples/bulk/", Role.CURATOR, None),
    ("sample history", "get", "/samples/{x}/history/", Role.VIEWER, None),
    (
        "prompt override",
        "post",
        "/projects/{p}/recipes/self_rewarding/prompts/",
        Role.CURATOR,
        lambda o: {"name": "respond", "text": "Please answer: {{prompt}}"},
    ),
    ("exports page", "get", "/projects/{p}/exports/", Role.VIEWER, None),
    ("export preview", "get", "/projects/{p}/exports/?format=openai", Role.VIEWER, None),
    (
        "export build",
        "post",
        "/projects/{p}/exports/",
        Role.CURATOR,
        lambda o: {"format": "openai", "statuses": ["pending"]},
    ),
    ("dataset import", "post", "/projects/{p}/exports/import/", Role.CURATOR, dataset_body),
    ("export page", "get", "/exports/{v}/", Role.VIEWER, None),
    ("export download", "get", "/exports/{v}/download/", Role.VIEWER, None),
    ("export file", "get", "/exports/{v}/files/train.jsonl", Role.VIEWER, None),
    (
        "recipe catalogue filtered",
        "get",
        "/projects/{p}/runs/?output=sft&need=LP",
        Role.VIEWER,
        None,
    ),
    (
        "run form with roles",
        "post",
        "/projects/{p}/runs/new/?recipe=self_rewarding",
        Role.CURATOR,
        lambda o: {"seed_set": o["s"], "role_policy": o["e"], "target_count": 2},
    ),
]

API: list[tuple[str, str, str, str, Body]] = [
    ("get project", "get", "/api/v1/projects/{p}", Role.VIEWER, None),
    ("list members", "get", "/api/v1/projects/{p}/members", Role.VIEWER, None),
    (
        "set member",
        "post",
        "/api/v1/projects/{p}/members",
        Role.OWNER,
        lambda o: {"username": "alpha-viewer", "role": "annotator"},
    ),
    ("remove member", "delete", "/api/v1/projects/{p}/members/{m}", Role.OWNER, None),
    ("audit", "get", "/api/v1/projects/{p}/audit", Role.CURATOR, None),
    ("list endpoints", "get", "/api/v1/projects/{p}/endpoints", Role.VIEWER, None),
    ("list seed sets", "get", "/api/v1/projects/{p}/seed-sets", Role.VIEWER, None),
    ("upload seed set", "post", "/api/v1/projects/{p}/seed-sets", Role.CURATOR, upload_body),
    ("get seed set", "get", "/api/v1/seed-sets/{s}", Role.VIEWER, None),
    ("list seeds", "get", "/api/v1/seed-sets/{s}/seeds?q=haiku", Role.VIEWER, None),
    ("delete seed set", "delete", "/api/v1/seed-sets/{d}", Role.CURATOR, None),
    ("list samples", "get", "/api/v1/projects/{p}/samples", Role.VIEWER, None),
    ("get sample", "get", "/api/v1/samples/{x}", Role.VIEWER, None),
    (
        "list prompts",
        "get",
        "/api/v1/projects/{p}/prompts?recipe=self_rewarding",
        Role.VIEWER,
        None,
    ),
    (
        "override prompt",
        "post",
        "/api/v1/projects/{p}/prompts",
        Role.CURATOR,
        lambda o: {"recipe": "self_rewarding", "name": "respond", "text": "Answer: {{prompt}}"},
    ),
    ("create endpoint", "post", "/api/v1/projects/{p}/endpoints", Role.OWNER, endpoint_form),
    ("test endpoint", "post", "/api/v1/endpoints/{e}/test", Role.CURATOR, None),
    ("list runs", "get", "/api/v1/projects/{p}/runs", Role.VIEWER, None),
    (
        "start run",
        "post",
        "/api/v1/projects/{p}/runs",
        Role.CURATOR,
        lambda o: {"recipe": "self_rewarding", "seed_set": o["s"], "target_count": 2},
    ),
    ("get run", "get", "/api/v1/runs/{r}", Role.VIEWER, None),
    ("pause run", "post", "/api/v1/runs/{r}/pause", Role.CURATOR, None),
    ("cancel run", "post", "/api/v1/runs/{r}/cancel", Role.CURATOR, None),
    ("run budget", "post", "/api/v1/runs/{r}/budget", Role.CURATOR, lambda o: {"budget_tokens": 9}),
    ("judge samples", "post", "/api/v1/projects/{p}/judge", Role.CURATOR, lambda o: {}),
    ("create queue", "post", "/api/v1/projects/{p}/queues", Role.CURATOR, lambda o: {"name": "q2"}),
    ("get queue", "get", "/api/v1/queues/{q}", Role.VIEWER, None),
    ("claim", "post", "/api/v1/queues/{q}/claim", Role.ANNOTATOR, None),
    ("undo", "post", "/api/v1/queues/{q}/undo", Role.ANNOTATOR, None),
    (
        "add question api",
        "post",
        "/api/v1/queues/{q}/questions",
        Role.CURATOR,
        lambda o: {"type": "text", "id": "note2"},
    ),
    ("judge vs human", "get", "/api/v1/queues/{q}/judge-vs-human", Role.VIEWER, None),
    ("sample history api", "get", "/api/v1/samples/{x}/history", Role.VIEWER, None),
    (
        "bulk preview",
        "post",
        "/api/v1/projects/{p}/samples/bulk",
        Role.CURATOR,
        lambda o: {"filters": {"statuses": ["pending"]}},
    ),
    ("create export", "post", "/api/v1/projects/{p}/exports", Role.CURATOR, export_body),
    ("list exports", "get", "/api/v1/projects/{p}/exports", Role.VIEWER, None),
    (
        "preview export",
        "post",
        "/api/v1/projects/{p}/exports/preview",
        Role.VIEWER,
        lambda o: {"format": "openai"},
    ),
    ("get export", "get", "/api/v1/exports/{v}", Role.VIEWER, None),
    ("download export", "get", "/api/v1/exports/{v}/download", Role.VIEWER, None),
    ("diff exports", "get", "/api/v1/exports/{v}/diff?against={v}", Role.VIEWER, None),
    ("import dataset", "post", "/api/v1/projects/{p}/imports", Role.CURATOR, dataset_body),
    ("run items", "get", "/api/v1/runs/{r}/items?outcome=filtered", Role.VIEWER, None),
    (
        "start run with roles",
        "post",
        "/api/v1/projects/{p}/runs",
        Role.CURATOR,
        lambda o: {"recipe": "self_rewarding", "seed_set": o["s"], "endpoints": {"judge": o["e"]}},
    ),
]

RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.CURATOR: 2, Role.OWNER: 3}


def call(client: Client, method: str, url: str, body: Body, api: bool, objs: Any = None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    data = body(objs or {})
    if api and "file" not in data and method != "delete":
        return getattr(client, method)(url, data, content_type="application/json")
    return getattr(client, method)(url, data)


def expected(role: str, minimum: str) -> str:
    return "allowed" if RANK[role] >= RANK[minimum] else "forbidden"


def assert_allowed(response: Any, what: str) -> None:
    # Allowed means the request got past the permission check: it may still be refused
    # for its content (400) or its state (409, e.g. nothing to undo).
    assert response.status_code < 500, f"{what}: {response.status_code}"
    assert response.status_code not in (401, 403, 404), (
        f"{what}: {response.status_code} {response.content[:300]!r}"
    )


@pytest.mark.parametrize("name,method,url,minimum,body", PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("who", ["owner", "annotator", "outsider"])
def test_each_page_admits_exactly_the_roles_it_should(
    cast: Cast, who: str, name: str, method: str, url: str, minimum: str, body: Body
) -> None:
    client = Client()
    client.force_login(cast.user(who))
    response = call(
        client, method, url.format(**(objs := objects(cast))), body, api=False, objs=objs
    )
    if who == "outsider":
        assert response.status_code == 404, name
    elif expected(who, minimum) == "forbidden":
        assert response.status_code == 403, name
    else:
        assert_allowed(response, name)


@pytest.mark.parametrize("name,method,url,minimum,body", API, ids=[a[0] for a in API])
@pytest.mark.parametrize("who", ["owner", "annotator", "outsider"])
def test_each_api_endpoint_admits_exactly_the_roles_it_should(
    cast: Cast,
    api_client_for: Any,
    who: str,
    name: str,
    method: str,
    url: str,
    minimum: str,
    body: Body,
) -> None:
    client = api_client_for(cast.user(who))
    response = call(
        client, method, url.format(**(objs := objects(cast))), body, api=True, objs=objs
    )
    if who == "outsider":
        assert response.status_code == 404, name
        assert "detail" in response.json()
    elif expected(who, minimum) == "forbidden":
        assert response.status_code == 403, name
        assert "role" in response.json()["detail"]
    else:
        assert_allowed(response, name)


@pytest.mark.parametrize("name,method,url,minimum,body", PAGES, ids=[p[0] for p in PAGES])
def test_anonymous_visitors_are_sent_to_log_in(
    cast: Cast, name: str, method: str, url: str, minimum: str, body: Body
) -> None:
    objs = objects(cast)
    response = call(Client(), method, url.format(**objs), body, api=False, objs=objs)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name,method,url,minimum,body", API, ids=[a[0] for a in API])
def test_the_api_refuses_requests_without_a_valid_token(
    cast: Cast, name: str, method: str, url: str, minimum: str, body: Body
) -> None:
    client = Client(HTTP_AUTHORIZATION="Bearer sbd_not-a-real-token")
    response = call(
        client, method, url.format(**(objs := objects(cast))), body, api=True, objs=objs
    )
    assert response.status_code == 401


def test_the_project_list_shows_member_projects_only(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.annotator)
    body = client.get("/projects/").content.decode()
    assert "Alpha" in body
    assert "Beta" not in body


def test_the_api_project_list_shows_member_projects_only(cast: Cast, api_client_for: Any) -> None:
    names = [p["name"] for p in api_client_for(cast.outsider).get("/api/v1/projects").json()]
    assert names == ["Beta"]


def test_anyone_logged_in_may_create_a_project_and_owns_it(cast: Cast, api_client_for: Any) -> None:
    response = api_client_for(cast.annotator).post(
        "/api/v1/projects", {"name": "Gamma"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "owner"


@pytest.fixture(autouse=True)
def _no_retries(settings: Any) -> None:
    settings.SEEDBED_LLM_MAX_RETRIES = 0  # endpoints here point at a closed port


def test_the_recipe_list_is_open_to_any_authenticated_user(cast: Cast, api_client_for: Any) -> None:
    assert api_client_for(cast.outsider).get("/api/v1/recipes").status_code == 200
    assert Client().get("/api/v1/recipes").status_code == 401


def test_the_run_form_page_starts_a_run(cast: Cast) -> None:
    from generation.runs.models import Run

    objs = objects(cast)
    client = Client()
    client.force_login(cast.curator)
    response = client.post(
        f"/projects/{cast.project.pk}/runs/new/",
        {
            "recipe": "self_rewarding",
            "seed_set": objs["s"],
            "endpoint": objs["e"],
            "target_count": 3,
            "p_n_responses": 2,
        },
    )
    run = Run.objects.latest("id")
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.params["n_responses"] == 2 and run.params["judge_samples"] == 3


def test_the_run_form_shows_a_params_error_without_starting_anything(cast: Cast) -> None:
    from generation.runs.models import Run

    objs = objects(cast)
    before = Run.objects.count()
    client = Client()
    client.force_login(cast.curator)
    response = client.post(
        f"/projects/{cast.project.pk}/runs/new/",
        {
            "recipe": "self_rewarding",
            "seed_set": objs["s"],
            "endpoint": objs["e"],
            "target_count": 3,
            "p_n_responses": 1,
        },
    )
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 2" in response.content.decode()
    assert Run.objects.count() == before


# --- near-duplicates (curation/dedup) -------------------------------------------------------


def dedup_objects(cast: Cast) -> dict[str, Any]:
    from curation.dedup.models import DedupJob, DupCluster, DupMember

    objs = objects(cast)
    a, b = SampleFactory(project=cast.project), SampleFactory(project=cast.project)
    cluster = DupCluster.objects.create(
        project=cast.project, signature="sig", canonical_sample=a, size=2, threshold=0.88
    )
    DupMember.objects.create(cluster=cluster, sample=a, similarity=1.0)
    DupMember.objects.create(cluster=cluster, sample=b, similarity=0.93)
    job = DedupJob.objects.create(project=cast.project, scopes=["project"], threshold=0.88)
    return {**objs, "c": cluster.pk, "j": job.pk, "b": b.pk}


DEDUP_PAGES: list[tuple[str, str, str, str, Body]] = [
    ("duplicate clusters", "get", "/projects/{p}/duplicates/", Role.VIEWER, None),
    ("dedup rescan form", "post", "/projects/{p}/duplicates/rescan/", Role.CURATOR, lambda o: {}),
    ("dedup job progress", "get", "/dedup-jobs/{j}/", Role.VIEWER, None),
    ("keep canonical", "post", "/duplicate-clusters/{c}/keep/", Role.CURATOR, lambda o: {}),
    (
        "change canonical",
        "post",
        "/duplicate-clusters/{c}/canonical/",
        Role.CURATOR,
        lambda o: {"member": f"x{o['b']}"},
    ),
    ("find similar", "get", "/samples/{x}/similar/", Role.VIEWER, None),
    ("semantic search", "get", "/projects/{p}/search/", Role.VIEWER, None),
]

DEDUP_API: list[tuple[str, str, str, str, Body]] = [
    ("similar samples", "get", "/api/v1/samples/{x}/similar?k=3", Role.VIEWER, None),
    ("rescan", "post", "/api/v1/projects/{p}/dedup", Role.CURATOR, lambda o: {}),
    ("get dedup job", "get", "/api/v1/dedup-jobs/{j}", Role.VIEWER, None),
    ("list clusters", "get", "/api/v1/projects/{p}/duplicate-clusters", Role.VIEWER, None),
    ("get cluster", "get", "/api/v1/duplicate-clusters/{c}", Role.VIEWER, None),
    (
        "cluster not duplicate",
        "post",
        "/api/v1/duplicate-clusters/{c}/not-duplicate",
        Role.CURATOR,
        None,
    ),
    (
        "cluster canonical",
        "post",
        "/api/v1/duplicate-clusters/{c}/canonical",
        Role.CURATOR,
        lambda o: {"member": f"x{o['b']}"},
    ),
]


@pytest.mark.parametrize(
    "name,method,url,minimum,body", DEDUP_PAGES, ids=[p[0] for p in DEDUP_PAGES]
)
@pytest.mark.parametrize("who", ["owner", "annotator", "outsider"])
def test_each_dedup_page_admits_exactly_the_roles_it_should(
    cast: Cast, who: str, name: str, method: str, url: str, minimum: str, body: Body
) -> None:
    client = Client()
    client.force_login(cast.user(who))
    objs = dedup_objects(cast)
    response = call(client, method, url.format(**objs), body, api=False, objs=objs)
    if who == "outsider":
        assert response.status_code == 404, name
    elif expected(who, minimum) == "forbidden":
        assert response.status_code == 403, name
    else:
        assert_allowed(response, name)
    anonymous = call(Client(), method, url.format(**objs), body, api=False, objs=objs)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name,method,url,minimum,body", DEDUP_API, ids=[a[0] for a in DEDUP_API])
@pytest.mark.parametrize("who", ["owner", "annotator", "outsider"])
def test_each_dedup_api_endpoint_admits_exactly_the_roles_it_should(
    cast: Cast,
    api_client_for: Any,
    who: str,
    name: str,
    method: str,
    url: str,
    minimum: str,
    body: Body,
) -> None:
    objs = dedup_objects(cast)
    response = call(api_client_for(cast.user(who)), method, url.format(**objs), body, True, objs)
    if who == "outsider":
        assert response.status_code == 404, name
        assert "detail" in response.json()
    elif expected(who, minimum) == "forbidden":
        assert response.status_code == 403, name
        assert "role" in response.json()["detail"]
    else:
        assert_allowed(response, name)
    anonymous = call(
        Client(HTTP_AUTHORIZATION="Bearer sbd_nope"), method, url.format(**objs), body, True, objs
    )
    assert anonymous.status_code == 401
