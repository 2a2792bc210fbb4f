from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from curation.exports import services, system_prompts
from curation.exports.formats import ALL_FORMATS
from curation.exports.management.commands._lookup import project_and_user
from curation.projects.services import ServiceError


class Command(BaseCommand):
    help = "Build a new export version of a project here (not in a worker) and print its manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="Project id or slug.")
        parser.add_argument("--format", required=True, choices=ALL_FORMATS)
        parser.add_argument("--parquet", action="store_true", help="Parquet instead of JSONL.")
        parser.add_argument(
            "--filters", default="{}", help='JSON, e.g. {"statuses": ["accepted"]}.'
        )
        parser.add_argument("--validation", type=float, help="Validation fraction (0-1).")
        parser.add_argument("--seed", type=int, default=0, help="Split seed.")
        parser.add_argument("--include-scores", action="store_true")
        parser.add_argument("--no-source", action="store_true", help="Leave out the source column.")
        parser.add_argument(
            "--encoding",
            choices=["none", "self_instruct"],
            default="none",
            help="SFT (openai, sharegpt): Self-Instruct's fine-tuning encoding.",
        )
        parser.add_argument(
            "--system-prompt",
            choices=system_prompts.MODES,
            default="stored",
            help="System messages: as stored (default; Orca 2's generic prompt), the teacher's "
            "erased prompt restored where kept, or none.",
        )
        parser.add_argument(
            "--loss-mask",
            choices=["none", "assistant"],
            default="none",
            help='SFT (openai, sharegpt): "assistant" puts a 0/1 weight on each message so '
            "training learns the assistant turns only.",
        )
        parser.add_argument(
            "--no-weight",
            action="store_true",
            help="SFT: leave out the weight column that samples with extra.weight (SPAG) get.",
        )
        parser.add_argument("--name", default="")
        parser.add_argument("--user", help="Username recorded as the creator.")
        parser.add_argument("--out", type=Path, help="Copy the version's files into this folder.")

    def handle(self, *args: Any, **opts: Any) -> None:
        project, actor = project_and_user(opts["project"], opts["user"])
        try:
            filters = json.loads(opts["filters"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--filters is not JSON: {exc}") from exc
        split = (
            {"validation": opts["validation"], "seed": opts["seed"]} if opts["validation"] else None
        )
        options = {
            "include_scores": opts["include_scores"],
            "include_source": not opts["no_source"],
            "encoding": opts["encoding"],
            "system_prompt": opts["system_prompt"],
            "loss_mask": opts["loss_mask"],
            "sample_weight": not opts["no_weight"],
        }
        try:
            export = services.create_export(
                actor, project, format=opts["format"], parquet=opts["parquet"], filters=filters,
                split=split, options=options, name=opts["name"], enqueue=False,
            )  # fmt: skip
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        built = services.build_export(export.pk)
        if built is None or built.status != "complete":
            raise CommandError(f"Version {export.version} did not complete.")
        if opts["out"]:
            opts["out"].mkdir(parents=True, exist_ok=True)
            for f in built.files:
                with (
                    default_storage.open(f["path"], "rb") as src,
                    open(opts["out"] / f["name"], "wb") as dst,
                ):
                    shutil.copyfileobj(src, dst)
        summary = {k: built.manifest[k] for k in ("version", "format", "rows", "samples", "counts")}
        self.stdout.write(
            json.dumps(summary | {"export_id": built.pk, "files": built.manifest["files"]})
        )
