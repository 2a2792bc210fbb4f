"""The tool-response cache: one row per (project, tool, canonical arguments), served as stored.

The canonical arguments of a call are its JSON object written with sorted keys (at every
depth), compact separators (`,` and `:`), no ASCII escaping (`"é"` stays `é`) and no NaN or
Infinity; array order is kept and numbers are written as Python's json writes them, so `1`
and `1.0` are different calls. The cache key is the SHA-256 (hex) of that text in UTF-8.
`{"a":1,"b":2}` and `{"b":2,"a":1}` are one call.

A response is text and is served exactly as stored: the same call always gets the same bytes.
Two callers racing on one new call both insert with ON CONFLICT DO NOTHING and read the row
back, so there is one row and both serve its text. The functions here are synchronous and
touch the database; async code reaches them through `ToolCache`, on the slice's DB thread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

InDb = Callable[..., Awaitable[Any]]  # Host.in_db: run a function on the slice's DB thread
# Where a stored response came from (ToolResponse.Source); the kit imports this module, so
# the model is imported only inside the functions that query (after Django is set up).
IMPLEMENTATION, SIMULATED, RECORDED = "implementation", "simulated", "recorded"
REAL = (RECORDED, IMPLEMENTATION)  # the sources simulations learn from
# Raw SQL for RETURNING: it tells the caller whether its insert won (bulk_create cannot).
_INSERT = (
    "INSERT INTO runs_toolresponse "
    "(project_id, tool, args_key, arguments, response, source, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, now()) "
    "ON CONFLICT (project_id, tool, args_key) DO NOTHING RETURNING id"
)


def canonical(arguments: Any) -> str:
    """The canonical JSON of a call's arguments (see the module docstring). ValueError when
    they are not a JSON object, or hold something JSON cannot write."""
    if not isinstance(arguments, dict):
        raise ValueError(f"the arguments are {type(arguments).__name__}, not a JSON object")
    try:
        return json.dumps(
            arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"the arguments cannot be written as JSON: {exc}") from exc


def key_of(canonical_arguments: str) -> str:
    return hashlib.sha256(canonical_arguments.encode("utf-8")).hexdigest()


def encode(value: Any) -> str:
    """A JSON response as the text the cache keeps: compact, not ASCII-escaped, keys in the
    order the tool (or model) wrote them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Cached:
    text: str
    source: str  # implementation | simulated | recorded
    inserted: bool = False  # this call wrote the row (False: it was there, or another won)


def lookup(project_id: int, tool: str, key: str) -> Cached | None:
    from generation.runs.models import ToolResponse

    row = (
        ToolResponse.objects.filter(project_id=project_id, tool=tool, args_key=key)
        .values_list("response", "source")
        .first()
    )
    return Cached(row[0], row[1]) if row else None


def store(project_id: int, tool: str, arguments: str, text: str, source: str) -> Cached:
    """Insert the response unless the call has one already; the row that stands either way."""
    if "\x00" in text:  # Postgres text cannot hold NUL; a JSON response escapes it
        raise ValueError("the response contains a NUL character")
    key = key_of(arguments)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [project_id, tool, key, arguments, text, source])
        inserted = cursor.fetchone() is not None
    row = lookup(project_id, tool, key)
    if row is None:  # cleared between the insert and the read: serve what we have
        return Cached(text, source, inserted=inserted)
    return Cached(row.text, row.source, inserted=inserted)


def examples(project_id: int, tool: str, k: int) -> list[tuple[str, str]]:
    """Up to k real (recorded or implemented) responses of the tool, oldest first:
    (canonical arguments, response)."""
    from generation.runs.models import ToolResponse

    rows = ToolResponse.objects.filter(project_id=project_id, tool=tool, source__in=REAL)
    return list(rows.order_by("id").values_list("arguments", "response")[:k])


def load_recorded(project_id: int, tool: str, records: list[tuple[Any, Any]]) -> int:
    """Recorded (arguments, response) pairs of one tool into the cache, as source "recorded";
    a call already cached keeps its row. A response that is a string is kept as given (a
    recorded body); anything else is JSON-encoded. Returns the number of rows added."""
    from generation.runs.models import ToolResponse

    rows = []
    for arguments, response in records:
        text = response if isinstance(response, str) else encode(response)
        if "\x00" in text:
            raise ValueError(f"a recorded response of {tool!r} contains a NUL character")
        args = canonical(arguments)
        rows.append(
            ToolResponse(
                project_id=project_id,
                tool=tool,
                args_key=key_of(args),
                arguments=args,
                response=text,
                source=RECORDED,
            )
        )
    before = ToolResponse.objects.filter(project_id=project_id, tool=tool).count()
    ToolResponse.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return ToolResponse.objects.filter(project_id=project_id, tool=tool).count() - before


class ToolCache:
    """The cache of one project, from async code: every query on the DB thread (`in_db`)."""

    def __init__(self, project_id: int, in_db: InDb) -> None:
        self.project_id, self.in_db = project_id, in_db

    async def lookup(self, tool: str, key: str) -> Cached | None:
        found: Cached | None = await self.in_db(lookup, self.project_id, tool, key)
        return found

    async def store(self, tool: str, arguments: str, text: str, source: str) -> Cached:
        row: Cached = await self.in_db(store, self.project_id, tool, arguments, text, source)
        return row

    async def examples(self, tool: str, k: int) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = await self.in_db(examples, self.project_id, tool, k)
        return found

    async def load_recorded(self, tool: str, records: list[tuple[Any, Any]]) -> int:
        added: int = await self.in_db(load_recorded, self.project_id, tool, records)
        return added
