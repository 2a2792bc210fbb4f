"""How many requests an endpoint takes: concurrency slots and RPM/TPM token buckets.

`LLMClient` uses only the `Limits` seam below: `take(tokens)` before each attempt, then
`slot()` around the request, then `settle(delta)` once the reply's usage corrects the token
estimate. `InProcessLimits` is the default (exact, free, per process and event loop); a
limiter shared across processes can be passed to `LLMClient(limits=...)` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class Limits(Protocol):
    def slot(self) -> AbstractAsyncContextManager[Any]:
        """Held while a request is in flight: at most max_concurrency at once."""
        ...

    async def take(self, tokens: int) -> None:
        """Wait for one request and `tokens` estimated tokens of the RPM/TPM quotas."""
        ...

    def settle(self, delta: int) -> None:
        """Correct the TPM estimate by `delta` tokens once the real usage is known."""
        ...


class TokenBucket:
    """`per_minute` tokens, refilled continuously; starts full, so one minute's quota may burst."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        amount = min(amount, self.capacity)  # more than a minute's quota: wait for a full bucket
        async with self._lock:  # first come, first served
            self._refill()
            while self.tokens < amount - 1e-9:
                await self._sleep((amount - self.tokens) / self.rate)
                self._refill()
            self.tokens -= amount

    def settle(self, delta: float) -> None:
        """Correct an estimate once real usage is known; the bucket may go into debt."""
        self.tokens -= delta


class InProcessLimits:
    """`Limits` for one client in one process: a semaphore and up to two token buckets."""

    def __init__(
        self,
        max_concurrency: int,
        rpm: int | None,
        tpm: int | None,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._slots = asyncio.Semaphore(max_concurrency)
        self._rpm = TokenBucket(rpm, clock, sleep) if rpm else None
        self._tpm = TokenBucket(tpm, clock, sleep) if tpm else None

    def slot(self) -> AbstractAsyncContextManager[Any]:
        return self._slots

    async def take(self, tokens: int) -> None:
        if self._rpm is not None:
            await self._rpm.take(1)
        if self._tpm is not None:
            await self._tpm.take(tokens)

    def settle(self, delta: int) -> None:
        if self._tpm is not None:
            self._tpm.settle(delta)
