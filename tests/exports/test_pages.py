"""The exports page: live count and preview, building, progress, download, import, diff;
the filters; and the management commands."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, TestCase

from curation.exports import services
from curation.exports.models import Export
from curation.review.models import QueueItem, ReviewQueue
from curation.samples.models import Sample
from tests.cast import Cast
from tests.exports.helpers import export_now, path_of
from tests.factories import RunFactory, SampleFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_form_previews_the_count_and_first_rows_as_a_fragment(cast: Cast) -> None:
    for _ in range(3):
        SampleFactory(project=cast.project, status="accepted")
    SampleFactory(project=cast.project, status="accepted", messages=[
        {"role": "user", "content": "<script>alert(1)</script>"},
        {"role": "assistant", "content": "no"},
    ])  # fmt: skip
    url = f"/projects/{cast.project.pk}/exports/?format=openai&statuses=accepted"
    fragment = client_for(cast.viewer).get(url, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="preview"')
    assert '<strong id="preview-count">4</strong>' in body
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    page = client_for(cast.viewer).get(url).content.decode()
    assert "<html" in page and 'id="preview-count"' in page and "Build this version" not in page


def test_a_curator_builds_a_version_from_the_page_and_downloads_it(cast: Cast) -> None:
    SampleFactory(project=cast.project, status="accepted")
    client = client_for(cast.curator)
    form = {"format": "alpaca", "statuses": ["accepted"], "include_source": "on"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"/projects/{cast.project.pk}/exports/", form)
    export = Export.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/exports/{export.pk}/"
    detail = client.get(f"/exports/{export.pk}/").content.decode()
    assert 'id="download-bundle"' in detail and "hx-trigger" not in detail  # done: no polling
    download = client.get(f"/exports/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    one = client.get(f"/exports/{export.pk}/files/train.jsonl")
    assert b'"instruction"' in b"".join(one.streaming_content)


def test_a_queued_version_shows_a_polling_progress_bar(cast: Cast) -> None:
    SampleFactory(project=cast.project, status="accepted")
    export = services.create_export(cast.curator, cast.project, format="openai", enqueue=False)
    fragment = client_for(cast.viewer).get(f"/exports/{export.pk}/", HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="progress"') and 'hx-trigger="every 1s"' in body
    assert "<progress" in body
    download = client_for(cast.viewer).get(f"/exports/{export.pk}/download/")
    assert download.status_code == 302  # nothing to download yet; back to the page


def test_the_page_imports_a_dataset_or_says_why_not(cast: Cast) -> None:
    client = client_for(cast.curator)
    url = f"/projects/{cast.project.pk}/exports/import/"
    good = io.BytesIO(b'{"text": "fine", "label": "ok"}\n')
    good.name = "labels.jsonl"
    client.post(url, {"file": good, "format": "auto", "target": "samples"})
    assert Sample.objects.get().label == "ok"
    bad = io.BytesIO(b'{"text": "fine"}\n')
    bad.name = "bad.jsonl"
    response = client.post(url, {"file": bad, "format": "auto", "target": "samples"}, follow=True)
    assert "Nothing was imported: line 1: field &#x27;label&#x27;" in response.content.decode()


def test_the_filters_choose_samples(cast: Cast) -> None:
    p = cast.project
    run = RunFactory(project=p)
    a = SampleFactory(project=p, status="accepted", run=run, judge_score=4.0, tags=["keep"])
    b = SampleFactory(project=p, status="accepted", judge_score=2.0, recipe_id="evol_instruct")
    c = SampleFactory(project=p, status="accepted", dup_status="near_duplicate", duplicate_of=a)
    d = SampleFactory(project=p, status="accepted")
    queue = ReviewQueue.objects.create(project=p, name="q")
    QueueItem.objects.create(queue=queue, sample=d, final_decision="accept")

    def ids(**filters: Any) -> list[int]:
        export = export_now(cast.curator, p, format="openai", filters=filters)
        return [int(x) for x in path_of(export, "sample_ids.txt").read_text().split()]

    assert ids(run_ids=[run.pk]) == [a.pk]
    assert ids(recipe_ids=["evol_instruct"]) == [b.pk]
    assert ids(score_min=3) == [a.pk] and ids(score_max=3) == [b.pk]
    assert ids(canonical_only=True) == [a.pk, b.pk, d.pk]
    assert ids(tags=["keep"]) == [a.pk]
    assert ids(queue_ids=[queue.pk]) == [d.pk] and ids(adjudicated_only=True) == [d.pk]
    assert c.pk in ids()


def test_manage_py_export_builds_a_version_and_copies_its_files(cast: Cast, tmp_path: Path) -> None:
    SampleFactory(project=cast.project, status="accepted")
    out = io.StringIO()
    call_command(
        "export", "--project", cast.project.slug, "--format", "kto", "--out", str(tmp_path),
        "--user", cast.curator.username, stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue())
    assert summary["rows"] == 1 and summary["format"] == "kto"
    assert (tmp_path / "train.jsonl").exists() and (tmp_path / "README.md").exists()
    assert Export.objects.get().created_by == cast.curator
    with pytest.raises(CommandError, match="No samples match"):
        call_command("export", "--project", str(cast.project.pk), "--format", "classification")


def test_manage_py_import_dataset_imports_or_names_the_bad_line(cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c"}\n')
    with pytest.raises(CommandError, match="line 2: field 'output'"):
        call_command("import_dataset", str(path), "--project", str(cast.project.pk))
    path.write_text('{"instruction": "a", "output": "b"}\n')
    out = io.StringIO()
    call_command("import_dataset", str(path), "--project", str(cast.project.pk), stdout=out)
    assert json.loads(out.getvalue())["imported"] == 1


def test_the_data_card_escapes_names_and_explains_pairs(cast: Cast) -> None:
    cast.project.name = "<img src=x onerror=alert(1)> [click](javascript:alert(1))"
    cast.project.save()
    SampleFactory(project=cast.project, status="accepted", model="evil*model")
    export = export_now(cast.curator, cast.project, format="openai")
    card = path_of(export, "README.md").read_text()
    assert "<img" not in card and "&lt;img" in card and "\\[click\\]" in card
    assert "evil\\*model" in card and "## How pairs are made" not in card


def test_an_oversized_upload_is_refused_with_a_message_and_imports_nothing(
    cast: Cast, settings: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.SEEDBED_MAX_UPLOAD_BYTES = 10
    client = Client()
    client.force_login(cast.curator)
    upload = SimpleUploadedFile("big.jsonl", b'{"text": "a", "label": "b"}\n')
    response = client.post(
        f"/projects/{cast.project.pk}/exports/import/",
        {"file": upload, "format": "auto", "target": "samples"},
        follow=True,
    )
    assert response.status_code == 200
    assert "over the 0 MB limit" in response.content.decode()
    assert not Sample.objects.filter(project=cast.project).exists()
