"""The export flow in a browser: the live count follows the form, build, download."""

from __future__ import annotations

import hashlib
import zipfile
from typing import Any

import pytest

from curation.exports.models import Export
from curation.projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, SampleFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_curator_previews_builds_and_downloads_a_version(
    page_as: Any, live_server: Any, tmp_path: Any
) -> None:
    project = ProjectFactory(name="Browser exports")
    curator = UserFactory(username="e-curator")
    MembershipFactory(project=project, user=curator, role=Role.CURATOR)
    for _ in range(3):
        SampleFactory(project=project, status="accepted")
    for _ in range(2):
        SampleFactory(project=project, status="rejected")
    page = page_as(curator)
    page.goto(f"{live_server.url}/projects/{project.pk}/exports/")
    page.check("input[name=statuses][value=rejected]")  # htmx refreshes the count
    page.wait_for_function("() => document.querySelector('#preview-count')?.textContent === '5'")
    assert page.locator(".preview-row").count() == 5
    page.uncheck("input[name=statuses][value=rejected]")
    page.wait_for_function("() => document.querySelector('#preview-count')?.textContent === '3'")
    page.click("button.primary[type=submit]")
    page.wait_for_selector("#download-bundle")
    assert page.inner_text("#export-status") == "Complete"
    with page.expect_download() as info:
        page.click("#download-bundle")
    path = tmp_path / "bundle.zip"
    info.value.save_as(path)
    export = Export.objects.get(project=project)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == export.sha256
    with zipfile.ZipFile(path) as zf:
        rows = zf.read("browser-exports-v1/train.jsonl").splitlines()
    assert len(rows) == 3
    assert not page.console_errors
