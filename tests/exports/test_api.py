"""The API: build, poll, download, diff, import; roles; clear errors for bad input."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from django.test import TestCase

from curation.exports.models import Export
from tests.cast import Cast
from tests.factories import SampleFactory

pytestmark = pytest.mark.django_db


def post_export(client: Any, project_id: int, body: dict[str, Any]) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/api/v1/projects/{project_id}/exports", body, content_type="application/json"
        )


def streamed(response: Any) -> bytes:
    assert response.streaming, "downloads stream from storage"
    return b"".join(response.streaming_content)


def test_a_curator_builds_an_export_and_downloads_it_through_the_api(
    cast: Cast, api_client_for: Any
) -> None:
    for _ in range(3):
        SampleFactory(project=cast.project, status="accepted")
    client = api_client_for(cast.curator)
    created = post_export(client, cast.project.pk, {"format": "openai"})
    assert created.status_code == 201, created.content
    export_id = created.json()["id"]
    got = client.get(f"/api/v1/exports/{export_id}").json()
    assert got["status"] == "complete" and got["rows_written"] == 3 and got["progress"] == 1.0
    bundle = client.get(f"/api/v1/exports/{export_id}/download")
    assert bundle.status_code == 200
    assert bundle["Content-Disposition"].startswith("attachment")
    data = streamed(bundle)
    assert hashlib.sha256(data).hexdigest() == got["sha256"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("alpha-v1/manifest.json"))
        for f in manifest["files"]:
            assert hashlib.sha256(zf.read(f"alpha-v1/{f['name']}")).hexdigest() == f["sha256"]
    one = client.get(f"/api/v1/exports/{export_id}/download?file=train.jsonl")
    assert len(streamed(one).splitlines()) == 3


def test_a_viewer_may_download_but_not_create(cast: Cast, api_client_for: Any) -> None:
    SampleFactory(project=cast.project, status="accepted")
    export_id = post_export(api_client_for(cast.curator), cast.project.pk, {"format": "openai"})
    viewer = api_client_for(cast.viewer)
    assert viewer.get(f"/api/v1/exports/{export_id.json()['id']}/download").status_code == 200
    refused = post_export(viewer, cast.project.pk, {"format": "openai"})
    assert refused.status_code == 403 and "curator" in refused.json()["detail"]
    annotator = post_export(api_client_for(cast.annotator), cast.project.pk, {"format": "openai"})
    assert annotator.status_code == 403


def test_an_outsider_cannot_see_or_download_a_projects_exports(
    cast: Cast, api_client_for: Any
) -> None:
    SampleFactory(project=cast.project, status="accepted")
    export_id = post_export(api_client_for(cast.owner), cast.project.pk, {"format": "openai"})
    outsider = api_client_for(cast.outsider)
    for url in ("", "/download", "/download?file=train.jsonl"):
        assert outsider.get(f"/api/v1/exports/{export_id.json()['id']}{url}").status_code == 404
    assert post_export(outsider, cast.project.pk, {"format": "openai"}).status_code == 404


@pytest.mark.parametrize(
    "body,message",
    [
        ({"format": "openai", "filters": {"colour": "red"}}, "colour: Extra inputs"),
        ({"format": "openai", "filters": {"statuses": ["great"]}}, "statuses.0: Input should be"),
        ({"format": "openai", "filters": {"score_min": 4, "score_max": 1}}, "score_min is above"),
        ({"format": "openai", "split": {"validation": 1.5}}, "validation: Input should be less"),
        ({"format": "openai", "options": {"scores": True}}, "Bad options"),
        ({"format": "openai", "filters": {"statuses": ["pending"]}}, "No samples match"),
        ({"format": "openai", "filters": {"run_ids": [999999]}}, "No run 999999 in this project"),
    ],
)
def test_bad_input_gives_a_clear_error_and_no_version(
    cast: Cast, api_client_for: Any, body: dict[str, Any], message: str
) -> None:
    SampleFactory(project=cast.project, status="accepted")
    response = post_export(api_client_for(cast.curator), cast.project.pk, body)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Export.objects.exists()


def test_an_unknown_format_does_not_fit_the_schema(cast: Cast, api_client_for: Any) -> None:
    response = post_export(api_client_for(cast.curator), cast.project.pk, {"format": "csv"})

    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["detail"]] == ["format"]
    assert not Export.objects.exists()


def test_another_projects_queue_cannot_be_used_as_a_filter(cast: Cast, api_client_for: Any) -> None:
    from curation.review.models import ReviewQueue

    SampleFactory(project=cast.project, status="accepted")
    theirs = ReviewQueue.objects.create(project=cast.other_project, name="theirs")
    body = {"format": "openai", "filters": {"queue_ids": [theirs.pk]}}
    response = post_export(api_client_for(cast.curator), cast.project.pk, body)
    assert response.status_code == 400 and f"No queue {theirs.pk}" in response.json()["detail"]


def test_the_diff_of_two_versions_names_added_and_removed_samples(
    cast: Cast, api_client_for: Any
) -> None:
    kept = SampleFactory(project=cast.project, status="accepted")
    dropped = SampleFactory(project=cast.project, status="accepted")
    client = api_client_for(cast.curator)
    first = post_export(client, cast.project.pk, {"format": "openai"}).json()["id"]
    dropped.status = "rejected"
    dropped.save()
    added = [SampleFactory(project=cast.project, status="accepted") for _ in range(2)]
    second = post_export(client, cast.project.pk, {"format": "openai"}).json()["id"]
    diff = client.get(f"/api/v1/exports/{second}/diff?against={first}").json()
    assert diff["added"] == [s.pk for s in added] and diff["removed"] == [dropped.pk]
    assert (diff["added_count"], diff["removed_count"], diff["unchanged_count"]) == (2, 1, 1)
    assert kept.pk not in diff["added"] + diff["removed"]


def test_the_preview_counts_and_shows_the_first_rows(cast: Cast, api_client_for: Any) -> None:
    for _ in range(7):
        SampleFactory(project=cast.project, status="accepted")
    response = api_client_for(cast.viewer).post(
        f"/api/v1/projects/{cast.project.pk}/exports/preview",
        {"format": "sharegpt"},
        content_type="application/json",
    )
    body = response.json()
    assert body["count"] == 7 and len(body["rows"]) == 5
    assert body["rows"][0]["conversations"][0]["from"] == "human"
    assert not Export.objects.exists()


def test_importing_through_the_api_reports_what_it_did(cast: Cast, api_client_for: Any) -> None:
    data = b'{"text": "great film", "label": "positive"}\n{"text": "dull", "label": "negative"}\n'
    response = api_client_for(cast.curator).post(
        f"/api/v1/projects/{cast.project.pk}/imports",
        {"file": io.BytesIO(data), "format": "auto"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 2 and response.json()["format"] == "classification"
    bad = api_client_for(cast.curator).post(
        f"/api/v1/projects/{cast.project.pk}/imports",
        {"file": io.BytesIO(b'{"text": "ok", "label": "x"}\n{"text": "no label"}\n')},
    )
    assert bad.status_code == 400 and bad.json()["detail"].startswith("line 2:")


def test_the_samples_of_complete_versions_feed_the_dedup_exports_scope(cast: Cast) -> None:
    from curation.dedup.detect import exported_sample_ids
    from tests.exports.helpers import export_now
    from tests.factories import SampleFactory

    shipped = [SampleFactory(project=cast.project, status="accepted") for _ in range(3)]
    SampleFactory(project=cast.project, status="pending")
    assert exported_sample_ids(cast.project.pk) == set()
    export_now(cast.curator, cast.project, format="openai", filters={"statuses": ["accepted"]})
    assert exported_sample_ids(cast.project.pk) == {s.pk for s in shipped}
