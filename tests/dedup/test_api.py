"""The near-duplicate API: similar, search, rescan jobs, clusters and their actions."""

from __future__ import annotations

from typing import Any

import pytest

from curation.dedup.models import DedupJob, DupCluster
from curation.projects.models import AuditEvent
from curation.samples.models import SampleStatus
from generation.embeddings import EmbeddingDimensionError, unit_rows
from tests.cast import Cast
from tests.dedup.test_clusters import OTHER, POEM, POEM_2, sft
from tests.factories import SeedFactory, SeedSetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(cast: Cast, minilm: Any) -> dict[str, Any]:
    cast.project.dedup_threshold = 0.8
    cast.project.save()
    samples = {
        "a": sft(cast.project, POEM),
        "b": sft(cast.project, POEM_2),
        "x": sft(cast.project, OTHER, "Energy and focus."),
    }
    from curation.dedup.embed import embed_samples

    embed_samples(cast.project.pk)  # what the beat sweep does for new samples
    return samples


def test_similar_returns_the_nearest_samples_best_first(
    cast: Cast, pair: Any, api_client_for: Any
) -> None:
    response = api_client_for(cast.viewer).get(f"/api/v1/samples/{pair['a'].pk}/similar?k=10")
    assert response.status_code == 200
    body = response.json()
    assert [h["id"] for h in body] == [pair["b"].pk, pair["x"].pk]
    assert body[0]["similarity"] > 0.8 > body[1]["similarity"]


def test_search_finds_samples_and_seeds_by_meaning(
    cast: Cast, pair: Any, api_client_for: Any
) -> None:
    SeedFactory(seed_set=SeedSetFactory(project=cast.project), text="A sonnet about the sea.")
    from curation.dedup.embed import embed_seeds

    embed_seeds(cast.project.pk)
    body = (
        api_client_for(cast.viewer)
        .get(f"/api/v1/projects/{cast.project.pk}/search?q=poetry about the ocean&k=3")
        .json()
    )
    assert {h["kind"] for h in body} == {"sample", "seed"}
    assert body[0]["kind"] == "sample" and body[0]["id"] in {pair["a"].pk, pair["b"].pk}


def test_a_rescan_returns_a_job_to_poll_and_clusters_are_listed(
    cast: Cast, pair: Any, api_client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = api_client_for(cast.curator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/projects/{cast.project.pk}/dedup",
            {"threshold": 0.8, "scopes": ["project", "seeds"]},
            content_type="application/json",
        )
    assert response.status_code == 202
    job = client.get(f"/api/v1/dedup-jobs/{response.json()['id']}").json()
    assert job["status"] == "done" and job["progress"] == 1.0 and job["result"]["clusters"] == 1
    page = client.get(f"/api/v1/projects/{cast.project.pk}/duplicate-clusters").json()
    assert page["count"] == 1
    members = page["results"][0]["members"]
    assert members[0]["canonical"] and members[0]["sample_id"] == pair["a"].pk
    assert members[1]["text"].startswith(POEM_2) and members[1]["similarity"] > 0.8


def test_a_bad_scope_is_refused_with_a_detail(cast: Cast, api_client_for: Any) -> None:
    response = api_client_for(cast.curator).post(
        f"/api/v1/projects/{cast.project.pk}/dedup",
        {"scopes": ["galaxy"]},
        content_type="application/json",
    )
    assert response.status_code == 422  # the scopes are an enum of the schema
    assert [e["loc"][-2:] for e in response.json()["detail"]] == [["scopes", 0]]
    assert not DedupJob.objects.exists()


def test_cluster_actions_through_the_api_are_audited_and_undoable(
    cast: Cast, pair: Any, api_client_for: Any
) -> None:
    from curation.dedup.services import scan

    scan(cast.project.pk, full=True)
    cluster = DupCluster.objects.get()
    client = api_client_for(cast.curator)
    response = client.post(f"/api/v1/duplicate-clusters/{cluster.pk}/keep-canonical")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    assert pair["b"].__class__.objects.get(pk=pair["b"].pk).status == SampleStatus.REJECTED
    again = client.post(f"/api/v1/duplicate-clusters/{cluster.pk}/keep-canonical")
    assert again.status_code == 409 and "reopen" in again.json()["detail"]
    body = client.post(
        f"/api/v1/duplicate-clusters/{cluster.pk}/canonical",
        {"member": f"x{pair['b'].pk}"},
        content_type="application/json",
    ).json()
    assert body["canonical"] == f"x{pair['b'].pk}" and body["status"] == "resolved"
    assert client.post(f"/api/v1/duplicate-clusters/{cluster.pk}/reopen").json()["status"] == "open"
    verbs = set(AuditEvent.objects.filter(project=cast.project).values_list("verb", flat=True))
    assert {"dedup.keep_canonical", "dedup.change_canonical", "dedup.reopen"} <= verbs


def test_vectors_of_the_wrong_dimension_are_refused_with_the_way_out() -> None:
    with pytest.raises(EmbeddingDimensionError, match="SEEDBED_EMBEDDING_DIM=768"):
        unit_rows([[0.1] * 768], 384, "text-embedding-x")


def test_the_endpoint_backend_embeds_through_llm_embed(
    cast: Cast, fake_llm: Any, settings: Any
) -> None:
    from curation.dedup.services import scan
    from tests.factories import EndpointFactory

    settings.SEEDBED_EMBEDDING_BACKEND = "endpoint"
    EndpointFactory(
        project=cast.project,
        base_url=fake_llm.base_url,
        embedding_model="fake-embed",
        is_default=True,
    )
    sample = sft(cast.project, POEM)
    assert scan(cast.project.pk)["embedded"] == 1
    sample.refresh_from_db()
    assert sample.embedding_model == "fake-embed" and len(sample.embedding) == 384
    from curation.projects.models import LLMCall

    call = LLMCall.objects.get(project=cast.project)
    assert call.purpose == "embed" and call.model == "fake-embed" and call.status == "ok"


def test_an_endpoint_model_of_another_dimension_is_refused_and_nothing_is_stored(
    cast: Cast, fake_llm: Any, settings: Any
) -> None:
    from curation.dedup.services import scan
    from tests.factories import EndpointFactory

    settings.SEEDBED_EMBEDDING_BACKEND = "endpoint"
    fake_llm.embedding_dim = 768
    EndpointFactory(project=cast.project, base_url=fake_llm.base_url, embedding_model="big")
    sample = sft(cast.project, POEM)
    with pytest.raises(EmbeddingDimensionError, match="set_embedding_dim 768"):
        scan(cast.project.pk)
    sample.refresh_from_db()
    assert sample.embedding is None and sample.embedding_model == ""


def test_a_failing_embedding_endpoint_is_a_503_with_the_reason_not_a_500(
    cast: Cast, fake_llm: Any, settings: Any, api_client_for: Any
) -> None:
    from tests.factories import EndpointFactory

    settings.SEEDBED_EMBEDDING_BACKEND = "endpoint"
    settings.SEEDBED_LLM_MAX_RETRIES = 0
    EndpointFactory(
        project=cast.project, base_url=fake_llm.base_url, embedding_model="e", is_default=True
    )
    fake_llm.fault("400", times=-1)  # permanent: no retries to wait through
    response = api_client_for(cast.owner).get(f"/api/v1/projects/{cast.project.pk}/search?q=sea")
    assert response.status_code == 503
    assert "Embeddings are unavailable" in response.json()["detail"]
