"""Rescan a project for near-duplicates (the same work as POST /projects/{id}/dedup)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from curation.dedup.management.commands._project import project_arg
from curation.projects.services import ServiceError


class Command(BaseCommand):
    help = "Embed what is missing, recompute every near-duplicate edge and rebuild clusters."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", required=True, help="id or slug")
        parser.add_argument("--threshold", type=float, help="cosine threshold to set first")
        parser.add_argument(
            "--scopes", help="comma-separated: run, project, seeds, exports (set first)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from curation.dedup.services import scan, set_dedup_settings

        project = project_arg(opts["project"])
        scopes = opts["scopes"].split(",") if opts["scopes"] else None
        if opts["threshold"] is not None or scopes is not None:
            try:
                set_dedup_settings(None, project, threshold=opts["threshold"], scopes=scopes)
            except ServiceError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(scan(project.pk, full=True)))
