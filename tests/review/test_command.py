"""`manage.py review`: queues, bulk decisions and reports for batch work."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.review import services
from curation.samples.models import Sample
from tests.review.test_claiming import make_queue

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("review", *args, stdout=out)
    return out.getvalue()


def test_a_queue_is_created_and_reported_from_the_command_line() -> None:
    queue, (ann,), _ = make_queue(n_items=3, n_annotators=1, overlap=1)
    project = str(queue.project.pk)
    made = json.loads(
        run(
            "create-queue",
            "--project",
            project,
            "--name",
            "cli",
            "--overlap",
            "2",
            "--filters",
            '{"statuses": ["pending"]}',
        )
    )
    assert (made["items"], made["overlap"]) == (3, 2)
    services.submit_review(ann, services.claim_next(ann, queue), decision="accept")
    report = json.loads(run("report", "--queue", str(queue.pk)))
    assert report["reviews_done"] == 1 and report["judge_vs_human"] == []


def test_bulk_from_the_command_line_counts_first_then_applies_the_confirmed_count() -> None:
    queue, _, _ = make_queue(n_items=3, n_annotators=1, overlap=1)
    project = str(queue.project.pk)
    assert "3 samples match" in run("bulk", "--project", project, "--decision", "reject")
    assert not Sample.objects.filter(status="rejected").exists()
    with pytest.raises(CommandError, match="3 samples match now, not the 2"):
        run("bulk", "--project", project, "--decision", "reject", "--confirm-count", "2")
    run("bulk", "--project", project, "--decision", "reject", "--confirm-count", "3")
    assert Sample.objects.filter(status="rejected").count() == 3


def test_bad_json_is_a_clear_error() -> None:
    queue, _, _ = make_queue(n_items=1, n_annotators=1, overlap=1)
    with pytest.raises(CommandError, match="--filters is not JSON"):
        run("create-queue", "--project", str(queue.project.pk), "--name", "x", "--filters", "{")
