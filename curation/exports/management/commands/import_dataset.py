from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.exports import services
from curation.exports.formats import ALL_FORMATS
from curation.exports.management.commands._lookup import project_and_user
from curation.projects.services import ServiceError


class Command(BaseCommand):
    help = "Import a dataset in an export format as samples to review (or as a seed set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--project", required=True, help="Project id or slug.")
        parser.add_argument("--format", default="auto", choices=["auto", *ALL_FORMATS])
        parser.add_argument(
            "--as", dest="target", default="samples", choices=["samples", "seed_set"]
        )
        parser.add_argument("--name", default="", help="Seed set name (with --as seed_set).")
        parser.add_argument("--user", help="Username recorded as the importer.")
        parser.add_argument(
            "--answers", type=Path, help="BFCL: the possible_answer file of the question file."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["path"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        project, actor = project_and_user(opts["project"], opts["user"])
        answers: Path | None = opts["answers"]
        if answers is not None and not answers.is_file():
            raise CommandError(f"{answers} is not a file.")
        try:
            result = services.import_dataset(
                actor, project, data=path.read_bytes(), fmt=opts["format"],
                target=opts["target"], name=opts["name"], filename=path.name,
                answers=answers.read_bytes() if answers else b"",
            )  # fmt: skip
        except ServiceError as exc:
            raise CommandError(f"{path.name}: {exc}") from exc
        self.stdout.write(json.dumps(result))
