"""Embed a project's samples and seeds that need it (missing, stale or edited)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from curation.dedup.management.commands._project import project_arg


class Command(BaseCommand):
    help = "Embed a project's samples and seeds, then detect near-duplicates among new ones."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", required=True, help="id or slug")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Hand the work to a Celery worker instead of doing it here.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from curation.dedup.services import scan
        from curation.dedup.tasks import detect_new_samples

        project = project_arg(opts["project"])
        if opts["enqueue"]:
            detect_new_samples.delay(project.pk)
            self.stdout.write(f"Queued embedding of project {project.slug}.")
            return
        result = scan(project.pk)
        self.stdout.write(
            f"Embedded {result['embedded']} samples and {result['seeds_embedded']} seeds; "
            f"{result['clusters']} open clusters."
        )
