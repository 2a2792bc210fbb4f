from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation import backup


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump) and the media files (exports, uploads) to a new "
        "directory, with a manifest of every table's row count (curation/backup.py)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            help="The backup directory to create (default: backups/seedbed-<UTC time>).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        out = Path(
            opts["to"] or Path("backups") / time.strftime("seedbed-%Y%m%d-%H%M%S", time.gmtime())
        )
        db = backup.Database.from_settings(settings.DATABASES["default"])
        try:
            manifest = backup.create(db, Path(settings.MEDIA_ROOT), out)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            f"Backed up {db.name}: {len(manifest['tables'])} tables, {rows} rows, "
            f"{manifest['media_files']} media files in {manifest['seconds']} s → {out}"
        )
