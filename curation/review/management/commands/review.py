from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.projects.models import Project
from curation.projects.services import ServiceError
from curation.review import services
from curation.review.calibration import judge_vs_human
from curation.review.models import ReviewQueue
from curation.review.presenters import queue_summary


class Command(BaseCommand):
    help = (
        "Batch review work: create-queue, bulk (accept/reject by filter), report (progress, "
        "agreement, judge vs human as JSON), release-leases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create-queue")
        create.add_argument("--project", required=True, help="Project id or slug.")
        create.add_argument("--name", required=True)
        create.add_argument("--filters", default="{}", help='JSON, e.g. {"statuses": ["pending"]}')
        create.add_argument("--overlap", type=int, default=1)
        create.add_argument("--order", default="random")
        create.add_argument("--questions", default="[]", help="JSON list (default questions).")
        create.add_argument("--guidelines-file", help="A markdown file.")
        create.add_argument("--user", help="Username recorded as the creator.")
        bulk = sub.add_parser("bulk")
        bulk.add_argument("--project", required=True)
        bulk.add_argument("--filters", default="{}")
        bulk.add_argument("--decision", required=True, choices=["accept", "reject"])
        bulk.add_argument(
            "--confirm-count", type=int, help="Apply only if exactly this many match."
        )
        bulk.add_argument("--user")
        report = sub.add_parser("report")
        report.add_argument("--queue", type=int, required=True)
        sub.add_parser("release-leases")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            getattr(self, "_" + o["action"].replace("-", "_"))(o)
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc

    def _create_queue(self, o: dict[str, Any]) -> None:
        guidelines = ""
        if o["guidelines_file"]:
            with open(o["guidelines_file"], encoding="utf-8") as f:
                guidelines = f.read()
        queue = services.create_queue(
            _user(o["user"]),
            _project(o["project"]),
            name=o["name"],
            filters=_json(o["filters"], "--filters"),
            overlap=o["overlap"],
            order=o["order"],
            questions=_json(o["questions"], "--questions"),
            guidelines=guidelines,
        )
        self.stdout.write(json.dumps(queue_summary(queue), default=str))

    def _bulk(self, o: dict[str, Any]) -> None:
        project = _project(o["project"])
        filters = _json(o["filters"], "--filters")
        count = services.filtered_samples(project, filters).count()
        if o["confirm_count"] is None:
            self.stdout.write(
                f"{count} samples match. Run again with --confirm-count {count} to "
                f"{o['decision']} them."
            )
            return
        n = services.bulk_decide(
            _user(o["user"]), project, filters, o["decision"], o["confirm_count"]
        )
        self.stdout.write(f"{o['decision'].capitalize()}ed {n} samples.")

    def _report(self, o: dict[str, Any]) -> None:
        queue = ReviewQueue.objects.filter(pk=o["queue"]).first()
        if queue is None:
            raise CommandError(f"No queue {o['queue']}.")
        report = {**queue_summary(queue), "judge_vs_human": judge_vs_human(queue)}
        self.stdout.write(json.dumps(report, default=str))

    def _release_leases(self, o: dict[str, Any]) -> None:
        self.stdout.write(f"Released {services.release_expired()} expired leases.")


def _project(ref: str) -> Project:
    project = Project.objects.filter(**({"pk": int(ref)} if ref.isdigit() else {"slug": ref}))
    found = project.first()
    if found is None:
        raise CommandError(f"No project {ref!r}.")
    return found


def _user(name: str | None) -> Any:
    if not name:
        return None
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        raise CommandError(f"No user {name!r}.")
    return user


def _json(text: str, flag: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{flag} is not JSON: {exc}") from exc
