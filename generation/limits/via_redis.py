"""The shared limiter in Redis: Lua scripts for a fair semaphore and token buckets.

Per endpoint: a ZSET of holders scored by lease expiry (ms, the server's TIME), a ZSET of
waiting processes scored the same way, and a hash {tokens, stamp} per rpm|tpm bucket. Every
key expires on its own once nobody renews it, so a dead worker leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from generation.limits.shared import WAIT_TTL_S, Store

PREFIX = "seedbed:limits"

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: holders, waiters. ARGV: max, ttl_ms, holder, process, wait_ttl_ms.
# Fair share as in via_postgres: while another process waits, take a slot only below
# max / (processes holding or waiting).
_ACQUIRE = (
    _NOW_MS
    + """
local max, ttl, holder, process = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local holders = redis.call('ZRANGE', KEYS[1], 0, -1)
if #holders < max then
  local seen, processes, mine, others = {}, 0, 0, false
  for _, h in ipairs(holders) do
    local p = string.match(h, '^(.*)/')
    if p == process then mine = mine + 1 end
    if not seen[p] then seen[p] = true; processes = processes + 1 end
  end
  for _, p in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if p ~= process then
      others = true
      if not seen[p] then seen[p] = true; processes = processes + 1 end
    end
  end
  if not seen[process] then processes = processes + 1 end
  if (not others) or mine * processes < max then
    redis.call('ZADD', KEYS[1], now + ttl, holder)
    redis.call('PEXPIRE', KEYS[1], ttl)
    return 1
  end
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), process)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 0
"""
)

# KEYS: the holders ZSET of each lease, in the order of ARGV[2..]. ARGV: ttl_ms, holders.
_RENEW = (
    _NOW_MS
    + """
local kept = 0
for i, key in ipairs(KEYS) do
  local score = redis.call('ZSCORE', key, ARGV[i + 1])
  if score and tonumber(score) > now then  -- an expired lease is not brought back
    redis.call('ZADD', key, now + tonumber(ARGV[1]), ARGV[i + 1])
    redis.call('PEXPIRE', key, ARGV[1], 'GT')
    kept = kept + 1
  end
end
return kept
"""
)

# KEYS: one hash per bucket. ARGV: per_minute, amount for each. Returns the wait in seconds.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local debt = 0
for i, key in ipairs(KEYS) do
  local per_minute, amount = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'stamp')
  local tokens = tonumber(state[1]) or per_minute
  local stamp = tonumber(state[2]) or now
  tokens = math.min(per_minute, tokens + math.max(0, now - stamp) * per_minute / 60) - amount
  redis.call('HSET', key, 'tokens', tostring(tokens), 'stamp', tostring(math.max(now, stamp)))
  local wait = math.max(0, -tokens) * 60 / per_minute
  if wait > debt then debt = wait end
  -- gone once it would be full again: a missing bucket is a full one
  redis.call('PEXPIRE', key, math.ceil((wait + 61) * 1000))
end
return tostring(debt)
"""


def _key(endpoint_id: int, what: str) -> str:
    return f"{PREFIX}:{{{endpoint_id}}}:{what}"  # one hash slot per endpoint (Redis Cluster)


class RedisStore(Store):
    backend = "redis"
    transient = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    def __init__(self, url: str, ttl_s: float) -> None:
        super().__init__(ttl_s)
        self._url = url
        self._redis: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}

    async def connect(self) -> None:
        self._redis = aioredis.Redis.from_url(self._url)
        for name, source in (("acquire", _ACQUIRE), ("renew", _RENEW), ("reserve", _RESERVE)):
            self._scripts[name] = self._redis.register_script(source)

    async def disconnect(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise redis.exceptions.ConnectionError("not connected")
        return self._redis

    async def try_acquire(self, endpoint_id: int, max_concurrency: int, holder: str) -> bool:
        self._client()
        keys = [_key(endpoint_id, "holders"), _key(endpoint_id, "waiters")]
        ttl_ms, wait_ms = int(self.ttl_s * 1000), int(WAIT_TTL_S * 1000)
        args = [max_concurrency, ttl_ms, holder, self.process, wait_ms]
        return bool(await self._scripts["acquire"](keys=keys, args=args))

    async def stop_waiting(self, endpoint_id: int) -> None:
        await self._client().zrem(_key(endpoint_id, "waiters"), self.process)

    async def release(self, endpoint_id: int, holders: list[str]) -> None:
        await self._client().zrem(_key(endpoint_id, "holders"), *holders)

    async def renew(self, held: dict[str, int]) -> int:
        self._client()
        keys = [_key(endpoint_id, "holders") for endpoint_id in held.values()]
        args = [int(self.ttl_s * 1000), *held]
        return int(await self._scripts["renew"](keys=keys, args=args))

    async def reserve(self, endpoint_id: int, amounts: list[tuple[str, float, float]]) -> float:
        self._client()
        keys = [_key(endpoint_id, kind) for kind, _, _ in amounts]
        args = [value for _, per_minute, amount in amounts for value in (per_minute, amount)]
        return float(await self._scripts["reserve"](keys=keys, args=args))
