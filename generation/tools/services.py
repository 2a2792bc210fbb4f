"""The tool cache's verbs for people (the `tool_cache` command): load recorded responses
from JSONL, clear a tool. Each runs in one transaction and writes an AuditEvent."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from curation.projects import audit
from curation.projects.models import Project
from curation.projects.services import ServiceError
from generation.runs.models import ToolResponse
from generation.tools import cache


@dataclass(frozen=True)
class Loaded:
    added: int
    already: int  # calls that had a response cached already (kept as they were)
    tools: list[str]


def parse_recorded(lines: Iterable[str]) -> dict[str, list[tuple[Any, Any]]]:
    """JSONL of {"tool": name, "arguments": {...}, "response": ...}, by tool. ServiceError
    names the first bad line. A string response is kept as given; others are JSON-encoded."""
    found: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ServiceError(f"line {number}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("tool"), str) or not row["tool"]:
            raise ServiceError(f"line {number}: needs 'tool' (a name)")
        if not isinstance(row.get("arguments"), dict):
            raise ServiceError(f"line {number}: needs 'arguments' (an object)")
        if "response" not in row:
            raise ServiceError(f"line {number}: needs 'response'")
        if len(row["tool"]) > 128:
            raise ServiceError(f"line {number}: the tool name is longer than 128 characters")
        found[row["tool"]].append((row["arguments"], row["response"]))
    return dict(found)


def load_recorded(actor: Any, project: Project, lines: Iterable[str]) -> Loaded:
    by_tool = parse_recorded(lines)
    added = 0
    with transaction.atomic():
        for tool, records in by_tool.items():
            try:
                added += cache.load_recorded(project.pk, tool, records)
            except ValueError as exc:
                raise ServiceError(str(exc)) from exc
        total = sum(len(r) for r in by_tool.values())
        audit.record(
            actor,
            "tool_cache.load",
            project,
            project=project,
            after={"added": added, "given": total, "tools": sorted(by_tool)},
        )
    return Loaded(added, total - added, sorted(by_tool))


def clear_tool(actor: Any, project: Project, tool: str) -> int:
    """Delete a tool's cached responses: its next calls are answered afresh."""
    with transaction.atomic():
        deleted, _ = ToolResponse.objects.filter(project=project, tool=tool).delete()
        audit.record(
            actor,
            "tool_cache.clear",
            project,
            project=project,
            after={"tool": tool, "deleted": deleted},
        )
    return deleted
