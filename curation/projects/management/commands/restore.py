from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation import backup


class Command(BaseCommand):
    help = (
        "Replace the database and the media files with a backup made by `manage.py backup`, "
        "then check every table's row count against its manifest. Stop the web server and "
        "workers first (`make stop`); open connections to the database are closed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup_dir", help="A directory written by `manage.py backup`.")
        parser.add_argument(
            "--yes", action="store_true", help="Replace the current data without asking."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        src = Path(opts["backup_dir"])
        db = backup.Database.from_settings(settings.DATABASES["default"])
        if not opts["yes"]:
            answer = input(
                f"Replace database {db.name!r} and {settings.MEDIA_ROOT} with {src}? [y/N] "
            )
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("Nothing restored.")
        from django.db import connections

        connections.close_all()
        try:
            report = backup.restore(src, db, Path(settings.MEDIA_ROOT))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        kept = report["media_kept_at"]
        self.stdout.write(
            f"Restored {db.name} from {src}: {report['tables']} tables, {report['rows']} rows, "
            "every count as in the backup."
            + (f" The replaced media files are kept in {kept}." if kept else "")
        )
