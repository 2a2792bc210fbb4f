"""The shared limiter in Postgres: leases, waiters and token buckets, one statement each.

Tables (curation/projects/models.py, migration 0006): one lease row per slot per endpoint,
taken with `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`; one waiter row
per waiting process; one bucket row per (endpoint, rpm|tpm), refilled and debited in one
`UPDATE`. Times are the server's clock_timestamp(), so workers on several hosts agree.
psycopg 3's async connection in autocommit, one per process and event loop (shared.Store).
"""

from __future__ import annotations

from typing import Any

import psycopg

from generation.limits.shared import WAIT_TTL_S, Store, wait_for

# The models' tables, written out in the SQL below (no SQL is built from strings here).
LEASES = "projects_limitlease"
WAITERS = "projects_limitwaiter"
BUCKETS = "projects_limitbucket"

_ADD_SLOTS = """
INSERT INTO projects_limitlease (endpoint_id, slot, holder, expires_at)
SELECT %(e)s, g, '', NULL FROM generate_series(0, %(max)s - 1) AS g
ON CONFLICT (endpoint_id, slot) DO NOTHING
"""

# Fair share: while another process waits, a process may only take a slot below
# max / (processes holding or waiting). The grant itself is what SKIP LOCKED makes atomic.
_ACQUIRE = """
WITH live AS (
    SELECT split_part(holder, '/', 1) AS process FROM projects_limitlease
    WHERE endpoint_id = %(e)s AND slot < %(max)s AND holder <> ''
      AND expires_at > clock_timestamp()
), others AS (
    SELECT process FROM projects_limitwaiter
    WHERE endpoint_id = %(e)s AND process <> %(process)s AND expires_at > clock_timestamp()
), granted AS (
    UPDATE projects_limitlease
    SET holder = %(holder)s, expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
    WHERE id = (
        SELECT id FROM projects_limitlease
        WHERE endpoint_id = %(e)s AND slot < %(max)s
          AND (holder = '' OR expires_at <= clock_timestamp())
        ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
    ) AND (
        NOT EXISTS (SELECT 1 FROM others)
        OR (SELECT count(*) FROM live WHERE process = %(process)s)
           * (SELECT count(*) FROM (
                SELECT process FROM live UNION SELECT process FROM others
                UNION SELECT %(process)s) AS p) < %(max)s
    )
    RETURNING slot
), queued AS (
    INSERT INTO projects_limitwaiter (endpoint_id, process, expires_at)
    SELECT %(e)s, %(process)s, clock_timestamp() + make_interval(secs => %(wait_ttl)s)
    WHERE NOT EXISTS (SELECT 1 FROM granted)
    ON CONFLICT (endpoint_id, process) DO UPDATE SET expires_at = EXCLUDED.expires_at
)
SELECT count(*) FROM granted
"""

_STOP_WAITING = "DELETE FROM projects_limitwaiter WHERE endpoint_id = %s AND process = %s"
_RELEASE = """
UPDATE projects_limitlease SET holder = '', expires_at = NULL
WHERE endpoint_id = %s AND holder = ANY(%s)
"""
_RENEW = """
UPDATE projects_limitlease SET expires_at = clock_timestamp() + make_interval(secs => %s)
WHERE holder = ANY(%s) AND expires_at > clock_timestamp()
"""

_ADD_BUCKETS = """
INSERT INTO projects_limitbucket (endpoint_id, kind, tokens, stamp)
SELECT %s, kind, per_minute, clock_timestamp()
FROM unnest(%s::text[], %s::float8[]) AS v(kind, per_minute)
ON CONFLICT (endpoint_id, kind) DO NOTHING
"""
# A reservation: refill to now (at most one minute's quota), debit, and return the balance;
# a negative balance is how long this request waits (the local backend's arithmetic).
_RESERVE = """
UPDATE projects_limitbucket AS b
SET tokens = LEAST(v.per_minute, b.tokens + GREATEST(0,
        EXTRACT(EPOCH FROM clock_timestamp() - b.stamp)) * v.per_minute / 60.0) - v.amount,
    stamp = GREATEST(b.stamp, clock_timestamp())
FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS v(kind, per_minute, amount)
WHERE b.endpoint_id = %s AND b.kind = v.kind
RETURNING b.tokens, v.per_minute
"""


class PostgresStore(Store):
    backend = "postgres"
    transient = (psycopg.OperationalError, psycopg.InterfaceError)

    def __init__(self, conninfo: dict[str, Any], ttl_s: float) -> None:
        super().__init__(ttl_s)
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._slots_added: set[tuple[int, int]] = set()
        self._buckets_added: set[tuple[int, tuple[str, ...]]] = set()

    async def connect(self) -> None:
        # Not waiting for the WAL flush: a commit lost in a Postgres crash is a lease that
        # expires anyway; waiting for it made each call 3-6 ms instead of 0.2-0.4.
        self._conn = await psycopg.AsyncConnection.connect(
            autocommit=True, options="-c synchronous_commit=off", **self._conninfo
        )

    async def disconnect(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _one(self, sql: str, params: Any) -> Any:
        if self._conn is None:
            raise psycopg.InterfaceError("not connected")
        cur = await self._conn.execute(sql, params)
        return await cur.fetchall() if cur.description else cur.rowcount

    async def try_acquire(self, endpoint_id: int, max_concurrency: int, holder: str) -> bool:
        if (endpoint_id, max_concurrency) not in self._slots_added:
            await self._one(_ADD_SLOTS, {"e": endpoint_id, "max": max_concurrency})
            self._slots_added.add((endpoint_id, max_concurrency))
        params = {
            "e": endpoint_id,
            "max": max_concurrency,
            "holder": holder,
            "process": self.process,
            "ttl": self.ttl_s,
            "wait_ttl": WAIT_TTL_S,
        }
        rows = await self._one(_ACQUIRE, params)
        return bool(rows[0][0])

    async def stop_waiting(self, endpoint_id: int) -> None:
        await self._one(_STOP_WAITING, (endpoint_id, self.process))

    async def release(self, endpoint_id: int, holders: list[str]) -> None:
        await self._one(_RELEASE, (endpoint_id, holders))

    async def renew(self, held: dict[str, int]) -> int:
        return int(await self._one(_RENEW, (self.ttl_s, list(held))))

    async def reserve(self, endpoint_id: int, amounts: list[tuple[str, float, float]]) -> float:
        kinds = [kind for kind, _, _ in amounts]
        rates = [per_minute for _, per_minute, _ in amounts]
        key = (endpoint_id, tuple(kinds))
        if key not in self._buckets_added:
            await self._one(_ADD_BUCKETS, (endpoint_id, kinds, rates))
            self._buckets_added.add(key)
        rows = await self._one(_RESERVE, (kinds, rates, [a for _, _, a in amounts], endpoint_id))
        if len(rows) < len(amounts):  # a bucket row was deleted under us: add it again next time
            self._buckets_added.discard(key)
        return max([0.0] + [wait_for(tokens, rate) for tokens, rate in rows])
