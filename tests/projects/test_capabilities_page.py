"""Test connection probes what an endpoint can do, stores it, shows it, and runs heed it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from curation.projects import services
from curation.projects.models import AuditEvent, ModelEndpoint
from curation.seeds.services import import_seed_set
from generation.runs import services as run_services
from generation.runs.models import Run
from tests.cast import Cast

pytestmark = pytest.mark.django_db

SEEDS = b'{"instruction": "Say hi.", "input": "", "output": "hi"}\n'


@pytest.fixture(autouse=True)
def _quick(settings: Any) -> None:
    settings.SEEDBED_LLM_MAX_RETRIES = 0


def endpoint_on(cast: Cast, fake: Any, name: str = "local") -> ModelEndpoint:
    return services.save_endpoint(
        cast.owner,
        cast.project,
        name=name,
        base_url=fake.base_url,
        chat_model="fake-model",
        is_default=True,
    )


def page_client(cast: Cast, who: str = "curator") -> Client:
    client = Client()
    client.force_login(cast.user(who))
    return client


def test_testing_the_connection_stores_what_the_endpoint_offers(
    cast: Cast, fake_llm: Any, api_client_for: Any
) -> None:
    fake_llm.disable("logprobs")
    endpoint = endpoint_on(cast, fake_llm)
    assert endpoint.capabilities == {}
    body = api_client_for(cast.curator).post(f"/api/v1/endpoints/{endpoint.pk}/test").json()
    assert body["ok"] is True and body["reply"]
    assert body["capabilities"]["chat"] is True and body["capabilities"]["logprobs"] is False
    endpoint.refresh_from_db()
    assert endpoint.capabilities["logprobs"] is False
    assert endpoint.capabilities["tools"] is True and endpoint.capabilities["checked_at"]
    event = AuditEvent.objects.get(verb="endpoint.capabilities")
    assert event.actor == cast.curator and event.object_id == str(endpoint.pk)
    assert event.before is None and event.after["logprobs"] is False
    listed = api_client_for(cast.viewer).get(f"/api/v1/projects/{cast.project.pk}/endpoints")
    assert listed.json()[0]["capabilities"]["logprobs"] is False


def test_a_second_probe_audits_what_changed(cast: Cast, fake_llm: Any) -> None:
    endpoint = endpoint_on(cast, fake_llm)
    services.test_endpoint(endpoint, cast.owner)
    fake_llm.disable("tools")
    services.test_endpoint(endpoint, cast.owner)
    first, second = AuditEvent.objects.filter(verb="endpoint.capabilities").order_by("id")
    assert first.after["tools"] is True
    assert second.before["tools"] is True and second.after["tools"] is False


def test_a_probe_that_could_not_tell_keeps_the_earlier_finding(cast: Cast) -> None:
    from generation.capabilities import Capabilities

    endpoint = services.save_endpoint(
        cast.owner, cast.project, name="busy", base_url="http://127.0.0.1:9/v1", chat_model="m"
    )
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(
        capabilities={"logprobs": False, "tools": True}
    )
    stored = services.record_capabilities(
        cast.owner, endpoint, Capabilities(chat=True, tools=False, errors={"logprobs": "HTTP 429"})
    )
    assert stored["logprobs"] is False and stored["tools"] is False and stored["chat"] is True
    endpoint.refresh_from_db()
    assert endpoint.capabilities == stored


def test_an_unreachable_endpoint_keeps_what_it_was_known_to_offer(cast: Cast) -> None:
    endpoint = services.save_endpoint(
        cast.owner, cast.project, name="dead", base_url="http://127.0.0.1:9/v1", chat_model="m"
    )
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(capabilities={"logprobs": False})
    endpoint.refresh_from_db()
    result = services.test_endpoint(endpoint, cast.owner)
    assert result["ok"] is False and "unreachable" in result["error"]
    endpoint.refresh_from_db()
    assert endpoint.capabilities == {"logprobs": False}
    assert not AuditEvent.objects.filter(verb="endpoint.capabilities").exists()


def test_the_endpoints_page_shows_a_capability_row_per_endpoint(cast: Cast, fake_llm: Any) -> None:
    fake_llm.disable("logprobs", "prompt_logprobs")
    probed = endpoint_on(cast, fake_llm)
    services.test_endpoint(probed, cast.owner)
    endpoint_on(cast, fake_llm, name="fresh")
    html = page_client(cast, "viewer").get(f"/projects/{cast.project.pk}/endpoints/")
    text = html.content.decode()
    row = text[text.index(f'id="caps-{probed.pk}"') :]
    row = row[: row.index("</div>")]
    assert "✓ chat" in row and "✗ logprobs" in row and "✗ prompt_logprobs" in row
    assert "✓ tools" in row and "probed " in row
    fresh = ModelEndpoint.objects.get(name="fresh")
    fresh_row = text[text.index(f'id="caps-{fresh.pk}"') :]
    assert "? not probed" in fresh_row[: fresh_row.index("</div>")]


def test_the_test_button_updates_the_capability_row_in_place(cast: Cast, fake_llm: Any) -> None:
    endpoint = endpoint_on(cast, fake_llm)
    client = page_client(cast)
    fragment = client.post(f"/endpoints/{endpoint.pk}/test/", HTTP_HX_REQUEST="true")
    text = fragment.content.decode()
    assert "✓ Connected" in text
    assert f'id="caps-{endpoint.pk}" hx-swap-oob="true"' in text and "✓ logprobs" in text
    full = client.post(f"/endpoints/{endpoint.pk}/test/").content.decode()
    assert "<h2>Capabilities</h2>" in full and "hx-swap-oob" not in full


def test_a_run_that_needs_logprobs_is_refused_for_an_endpoint_known_to_lack_them(
    cast: Cast, fake_llm: Any, api_client_for: Any
) -> None:
    fake_llm.disable("logprobs")
    endpoint = endpoint_on(cast, fake_llm)
    seeds = import_seed_set(cast.owner, cast.project, name="Prompts", data=SEEDS)
    client = api_client_for(cast.curator)
    assert client.post(f"/api/v1/endpoints/{endpoint.pk}/test").json()["ok"] is True

    def start(params: dict[str, Any]) -> Any:
        body = {
            "recipe": "constitutional_ai",
            "seed_set": seeds.pk,
            "endpoints": {"policy": endpoint.pk},
            "params": params,
            "target_count": 2,
        }
        url = f"/api/v1/projects/{cast.project.pk}/runs"
        return client.post(url, json.dumps(body), content_type="application/json")

    refused = start({"label_mode": "logprobs"})
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "LP" in detail and "'local'" in detail and "label_mode=hard" in detail
    assert not Run.objects.exists()
    assert start({"label_mode": "hard"}).status_code == 201
    assert start({"label_mode": "logprobs", "mode": "sl"}).status_code == 201


def test_the_run_form_warns_of_a_need_an_endpoint_is_known_to_lack(
    cast: Cast, fake_llm: Any
) -> None:
    fake_llm.disable("logprobs")
    endpoint = endpoint_on(cast, fake_llm)
    services.test_endpoint(endpoint, cast.owner)
    client = page_client(cast)
    url = f"/projects/{cast.project.pk}/runs/new/?recipe=constitutional_ai"
    html = client.get(url).content.decode()
    warning = html[html.index('id="need-LP"') :]
    warning = warning[: warning.index("</div>")]
    assert "Needs LP" in warning and "<strong>local</strong>" in warning
    assert "judge endpoint" in warning and "label_mode=hard" in warning
    # and the refusal itself comes back as a form error
    seeds = import_seed_set(cast.owner, cast.project, name="Prompts", data=SEEDS)
    response = client.post(
        url,
        {
            "recipe": "constitutional_ai",
            "seed_set": seeds.pk,
            "role_policy": endpoint.pk,
            "target_count": 2,
            "p_label_mode": "logprobs",
            "p_mode": "both",
            "p_n_revisions": 1,
        },
    )
    assert response.status_code == 200
    assert "does not offer it (logprobs)" in response.content.decode()
    assert not Run.objects.exists()


def test_the_run_form_does_not_warn_when_no_endpoint_lacks_a_need(
    cast: Cast, fake_llm: Any
) -> None:
    endpoint = endpoint_on(cast, fake_llm)
    services.test_endpoint(endpoint, cast.owner)
    html = page_client(cast).get(f"/projects/{cast.project.pk}/runs/new/?recipe=constitutional_ai")
    assert 'id="need-LP"' not in html.content.decode()


def test_an_endpoint_without_embeddings_still_runs_recipes_that_need_emb(
    cast: Cast, fake_llm: Any
) -> None:
    """DEDUP-E embeds with Seedbed's own embedder, so EMB never depends on the endpoint."""
    fake_llm.disable("embeddings")
    endpoint = endpoint_on(cast, fake_llm)
    services.test_endpoint(endpoint, cast.owner)
    endpoint.refresh_from_db()
    assert endpoint.capabilities["embeddings"] is False
    html = page_client(cast).get(f"/projects/{cast.project.pk}/runs/new/?recipe=datagen")
    assert "EMB" in html.content.decode() and 'id="need-EMB"' not in html.content.decode()
    seeds = import_seed_set(cast.owner, cast.project, name="Prompts", data=SEEDS)
    run = run_services.start_run(
        cast.owner, cast.project, recipe_id="datagen", endpoint=endpoint, seed_set=seeds,
        target_count=1,
    )  # fmt: skip
    assert run.pk
