"""Building versions: rows, files, checksums, splits and filters."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pytest

from curation.exports.models import Export
from curation.projects.models import AuditEvent
from tests.cast import Cast
from tests.exports.helpers import export_now, jsonl_rows, path_of, sha256
from tests.factories import SampleFactory, chat

pytestmark = pytest.mark.django_db


def test_an_openai_export_holds_exactly_the_accepted_samples(cast: Cast) -> None:
    kept = [SampleFactory(project=cast.project, status="accepted") for _ in range(3)]
    SampleFactory(project=cast.project, status="rejected")
    SampleFactory(project=cast.project, status="pending")
    export = export_now(cast.curator, cast.project, format="openai")
    rows = jsonl_rows(export)
    assert rows == [{"messages": s.messages} for s in kept]
    assert export.rows_written == 3 and export.sample_count == 3
    ids = path_of(export, "sample_ids.txt").read_text().split()
    assert ids == [str(s.pk) for s in kept]
    assert AuditEvent.objects.filter(verb="export.create", object_id=str(export.pk)).exists()
    assert AuditEvent.objects.filter(verb="export.complete", object_id=str(export.pk)).exists()


def test_the_manifest_checksums_verify_and_the_bundle_holds_every_file(cast: Cast) -> None:
    for _ in range(4):
        SampleFactory(project=cast.project, status="accepted")
    export = export_now(cast.curator, cast.project, format="sharegpt")
    manifest = json.loads(path_of(export, "manifest.json").read_text())
    assert manifest["rows"] == 4 and manifest["counts"]["by_split"] == {"train": 4}
    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == {"train.jsonl", "sample_ids.txt", "README.md"}
    for name, digest in listed.items():
        assert sha256(path_of(export, name)) == digest, name
    bundle = path_of(export, f"alpha-v{export.version}.zip")
    assert sha256(bundle) == export.sha256
    with zipfile.ZipFile(bundle) as zf:
        names = sorted(n.split("/", 1)[1] for n in zf.namelist())
        assert names == ["README.md", "manifest.json", "sample_ids.txt", "train.jsonl"]
        assert (
            zf.read(f"alpha-v{export.version}/train.jsonl")
            == path_of(export, "train.jsonl").read_bytes()
        )


def test_versions_count_up_per_project(cast: Cast) -> None:
    SampleFactory(project=cast.project, status="accepted")
    first = export_now(cast.curator, cast.project, format="openai")
    second = export_now(cast.curator, cast.project, format="alpaca")
    assert (first.version, second.version) == (1, 2)
    assert Export.objects.filter(project=cast.project).count() == 2


def test_a_seeded_split_is_stable_and_keeps_each_prompt_on_one_side(cast: Cast) -> None:
    for n in range(60):
        SampleFactory(project=cast.project, status="accepted", messages=chat(f"Q{n % 20}", f"A{n}"))
    split = {"validation": 0.3, "seed": 7}
    a = export_now(cast.curator, cast.project, format="openai", split=split)
    b = export_now(cast.curator, cast.project, format="openai", split=split)
    assert valid_bytes(a) == valid_bytes(b)
    train = {r["messages"][0]["content"] for r in jsonl_rows(a, "train.jsonl")}
    validation = {r["messages"][0]["content"] for r in jsonl_rows(a, "validation.jsonl")}
    assert train and validation and not train & validation
    assert a.manifest["counts"]["by_split"] == {
        "train": len(jsonl_rows(a, "train.jsonl")),
        "validation": len(jsonl_rows(a, "validation.jsonl")),
    }
    split["seed"] = 8
    other_seed = export_now(cast.curator, cast.project, format="openai", split=split)
    assert valid_bytes(other_seed) != valid_bytes(a)


def valid_bytes(export: Export) -> bytes:
    return path_of(export, "validation.jsonl").read_bytes()


def test_running_the_build_twice_does_nothing_the_second_time(cast: Cast) -> None:
    from curation.exports.services import build_export

    SampleFactory(project=cast.project, status="accepted")
    export = export_now(cast.curator, cast.project, format="openai")
    before = (export.sha256, export.finished_at)
    assert build_export(export.pk) is None  # a redelivered task
    export.refresh_from_db()
    assert (export.sha256, export.finished_at) == before


def test_a_build_whose_worker_died_is_taken_over_and_a_live_one_is_not(cast: Cast) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from curation.exports.services import build_export, create_export

    SampleFactory(project=cast.project, status="accepted")
    export = create_export(cast.curator, cast.project, format="openai", enqueue=False)
    Export.objects.filter(pk=export.pk).update(status="building", heartbeat_at=timezone.now())
    assert build_export(export.pk) is None  # someone is on it
    stale = timezone.now() - timedelta(minutes=10)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=stale)
    built = build_export(export.pk)
    assert built is not None and built.status == "complete" and built.rows_written == 1


def test_a_failed_build_says_why_on_the_version(cast: Cast, monkeypatch: Any) -> None:
    from curation.exports import builder
    from curation.exports.services import build_export, create_export

    SampleFactory(project=cast.project, status="accepted")
    export = create_export(cast.curator, cast.project, format="openai", enqueue=False)

    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(builder, "_write_ids", broken)
    with pytest.raises(OSError):
        build_export(export.pk)
    export.refresh_from_db()
    assert export.status == "failed" and export.error == "disk full"
