from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.seeds.kinds import KINDS, SeedImportError, parse_mapping
from curation.seeds.services import import_seed_set


class Command(BaseCommand):
    help = (
        "Import a seed file (JSONL, JSON, CSV, Parquet, .txt/.md or OpenAPI) into a project "
        "as a new seed set."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--project", required=True, help="Project id or slug.")
        parser.add_argument("--name", help="Seed set name (default: the file name).")
        parser.add_argument("--user", help="Username recorded as the importer.")
        parser.add_argument(
            "--kind", choices=list(KINDS), help="Read every record as this kind (no detection)."
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="The column that holds a field of --kind, e.g. --map question=Problem "
            "(repeatable).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["path"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        ref = opts["project"]
        project = Project.objects.filter(
            **({"pk": int(ref)} if ref.isdigit() else {"slug": ref})
        ).first()
        if project is None:
            raise CommandError(f"No project {ref!r}.")
        actor = None
        if opts["user"]:
            actor = get_user_model().objects.filter(username=opts["user"]).first()
            if actor is None:
                raise CommandError(f"No user named {opts['user']!r}.")
        try:
            seed_set = import_seed_set(
                actor,
                project,
                name=opts["name"] or path.stem,
                data=path.read_bytes(),
                filename=path.name,
                kind=opts["kind"],
                mapping=parse_mapping(opts["map"]),
            )
        except (ServiceError, SeedImportError) as exc:
            raise CommandError(f"{path.name}: {exc}") from exc
        self.stdout.write(
            f"Imported {seed_set.seed_count} seeds into seed set {seed_set.pk} "
            f"({seed_set.name}; kinds: {', '.join(seed_set.kinds)})."
        )
