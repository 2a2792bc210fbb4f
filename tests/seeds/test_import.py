"""Seed import through the service, the API, the upload page and the management command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from curation.projects.models import AuditEvent
from curation.seeds.models import Seed, SeedSet
from tests.cast import Cast

pytestmark = pytest.mark.django_db

SHARED_SEEDS = (
    Path(__file__).resolve().parents[2].parent / "shared/data/self-instruct/seed_tasks.jsonl"
)


def thousand_lines_with_a_bad_one(bad_line: int = 412) -> bytes:
    lines = []
    for i in range(1, 1001):
        record: dict[str, Any] = {"instruction": f"Task number {i}.", "input": "", "output": "done"}
        if i == bad_line:
            record["instruction"] = ""
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def upload(
    client: Client, project_id: int, name: str, data: bytes, filename: str = "s.jsonl"
) -> Any:
    f = io.BytesIO(data)
    f.name = filename
    return client.post(f"/api/v1/projects/{project_id}/seed-sets", {"name": name, "file": f})


def test_a_file_with_one_bad_line_is_refused_with_its_line_number_and_nothing_is_imported(
    cast: Cast, api_client_for: Any
) -> None:
    response = upload(
        api_client_for(cast.curator), cast.project.pk, "Big", thousand_lines_with_a_bad_one()
    )
    assert response.status_code == 400
    assert "line 412" in response.json()["detail"]
    assert "instruction" in response.json()["detail"]
    assert not SeedSet.objects.filter(name="Big").exists()
    assert Seed.objects.count() == 0


def test_the_same_file_without_the_bad_line_imports_all_of_it(
    cast: Cast, api_client_for: Any
) -> None:
    data = thousand_lines_with_a_bad_one(bad_line=0)
    response = upload(api_client_for(cast.curator), cast.project.pk, "Big", data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["seed_count"] == 1000
    assert body["source_format"] == "jsonl"
    seed_set = SeedSet.objects.get(pk=body["id"])
    assert seed_set.seeds.count() == 1000
    assert list(seed_set.seeds.order_by("position").values_list("position", flat=True)[:3]) == [
        1,
        2,
        3,
    ]


def test_the_shared_self_instruct_seed_tasks_import_as_they_are(
    cast: Cast, api_client_for: Any
) -> None:
    response = upload(
        api_client_for(cast.owner), cast.project.pk, "Self-Instruct 175", SHARED_SEEDS.read_bytes()
    )
    assert response.status_code == 201, response.content
    seed_set = SeedSet.objects.get(pk=response.json()["id"])
    assert seed_set.seed_count == 175
    first = seed_set.seeds.get(position=1)
    assert first.kind == "instruction"
    assert first.payload["instances"]
    assert first.payload["instruction"] in first.text


def test_an_import_is_audited_with_its_counts(cast: Cast, api_client_for: Any) -> None:
    upload(api_client_for(cast.curator), cast.project.pk, "Small", b'{"text": "hello"}\n')
    event = AuditEvent.objects.get(verb="seedset.import")
    assert event.actor == cast.curator
    assert event.after["seeds"] == 1


def test_a_second_seed_set_with_the_same_name_is_refused(cast: Cast, api_client_for: Any) -> None:
    client = api_client_for(cast.curator)
    assert upload(client, cast.project.pk, "Same", b'{"text": "a"}\n').status_code == 201
    response = upload(client, cast.project.pk, "Same", b'{"text": "b"}\n')
    assert response.status_code == 400
    assert "already has a seed set" in response.json()["detail"]


def test_a_file_over_the_size_limit_gets_a_clear_message(
    cast: Cast, api_client_for: Any, settings: Any
) -> None:
    settings.SEEDBED_MAX_UPLOAD_BYTES = 1000
    response = upload(
        api_client_for(cast.curator), cast.project.pk, "Huge", b'{"text": "x"}\n' * 200
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert not SeedSet.objects.exists()


def test_csv_uploads_are_detected_by_content_not_by_name(cast: Cast, api_client_for: Any) -> None:
    data = b"instruction,input,output\nAdd the numbers.,2 3,5\n"
    response = upload(
        api_client_for(cast.curator), cast.project.pk, "Csv", data, filename="x.jsonl"
    )
    assert response.status_code == 201, response.content
    assert response.json()["source_format"] == "csv"


def test_the_upload_page_shows_the_line_of_a_bad_record(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.curator)
    f = io.BytesIO(thousand_lines_with_a_bad_one(bad_line=7))
    f.name = "bad.jsonl"
    response = client.post(f"/projects/{cast.project.pk}/seeds/upload/", {"name": "Bad", "file": f})
    assert response.status_code == 200
    assert "line 7" in response.content.decode()
    assert not SeedSet.objects.filter(name="Bad").exists()


def test_the_upload_page_imports_and_redirects_to_the_new_seed_set(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.curator)
    f = io.BytesIO(b'{"instruction": "Say hi.", "input": "", "output": "hi"}\n')
    f.name = "ok.jsonl"
    response = client.post(f"/projects/{cast.project.pk}/seeds/upload/", {"name": "Ok", "file": f})
    seed_set = SeedSet.objects.get(name="Ok")
    assert response.status_code == 302
    assert response["Location"] == f"/seed-sets/{seed_set.pk}/"


def test_the_import_command_reads_a_file_into_a_project(cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"text": "one"}\n{"text": "two"}\n')
    out = io.StringIO()
    call_command("import_seeds", str(path), project=cast.project.slug, stdout=out)
    assert "Imported 2 seeds" in out.getvalue()
    assert SeedSet.objects.get(name="seeds").seed_count == 2


def test_the_import_command_names_the_bad_line(cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "one"}\nnot json\n')
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_seeds", str(path), project=str(cast.project.pk))
    assert not SeedSet.objects.exists()


def test_seed_search_finds_matching_seeds_and_pages_through_them(
    cast: Cast, api_client_for: Any
) -> None:
    lines = [json.dumps({"text": f"{'apple' if i % 2 else 'pear'} number {i}"}) for i in range(120)]
    client = api_client_for(cast.viewer)
    api = api_client_for(cast.curator)
    seed_set_id = upload(api, cast.project.pk, "Fruit", "\n".join(lines).encode()).json()["id"]
    page = client.get(f"/api/v1/seed-sets/{seed_set_id}/seeds?q=apple&page=2").json()
    assert page["count"] == 60
    assert page["page"] == 2
    assert all("apple" in s["text"] for s in page["results"])
