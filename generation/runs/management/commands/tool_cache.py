from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.projects.models import Project
from curation.projects.services import ServiceError
from generation.runs.models import ToolResponse
from generation.tools import services


class Command(BaseCommand):
    help = (
        "The tool-response cache of a project: list it, load recorded responses from JSONL "
        '({"tool": ..., "arguments": {...}, "response": ...} a line), or clear one tool.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "load", "clear"])
        parser.add_argument("--project", required=True, help="Project id or slug.")
        parser.add_argument("--tool", default="", help="One tool (list: a filter; clear: needed).")
        parser.add_argument("--file", type=Path, help="load: the JSONL file.")
        parser.add_argument("--user", help="Username recorded in the audit log (load, clear).")
        parser.add_argument("--limit", type=int, default=50, help="list: newest first; 0: all.")

    def handle(self, *args: Any, **o: Any) -> None:
        ref = o["project"]
        project = Project.objects.filter(
            **({"pk": int(ref)} if ref.isdigit() else {"slug": ref})
        ).first()
        if project is None:
            raise CommandError(f"No project {ref!r}.")
        actor = get_user_model().objects.filter(username=o["user"]).first() if o["user"] else None
        if o["action"] == "list":
            self._list(project, o["tool"], o["limit"])
        elif o["action"] == "load":
            if o["file"] is None:
                raise CommandError("load needs --file FILE.jsonl")
            try:
                with o["file"].open(encoding="utf-8") as lines:
                    loaded = services.load_recorded(actor, project, lines)
            except (OSError, UnicodeDecodeError, ServiceError) as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"{loaded.added} responses added, {loaded.already} already cached "
                f"({', '.join(loaded.tools) or 'no tools'})."
            )
        else:
            if not o["tool"]:
                raise CommandError("clear needs --tool NAME")
            deleted = services.clear_tool(actor, project, o["tool"])
            self.stdout.write(f"{deleted} responses of {o['tool']} deleted.")

    def _list(self, project: Project, tool: str, limit: int) -> None:
        rows = ToolResponse.objects.filter(project=project)
        if tool:
            rows = rows.filter(tool=tool)
        rows = rows.order_by("-id")
        # The same JSONL that `load` reads: the response as its exact text, so a listing
        # loaded into another project serves the same bytes.
        for r in rows[:limit] if limit > 0 else rows.iterator():
            line = {
                "tool": r.tool,
                "arguments": json.loads(r.arguments),
                "response": r.response,
                "source": r.source,
                "created_at": r.created_at.isoformat(),
            }
            self.stdout.write(json.dumps(line, ensure_ascii=False))
