"""What the Postgres and Redis limiters share: the store per event loop, leases and waiting.

A `Store` is one connection per process and event loop (asyncio.run in each slice makes a new
loop, so a new store). It renews every lease its process holds in one round trip every
ttl/3 seconds, so a holder that dies (kill -9) loses its slots within the TTL, and it
releases what is left and closes its connection when the loop cancels it at the end.

Waiting is fair between processes: a process that fails to get a slot is written down as
waiting (for WAIT_TTL_S, refreshed by each retry), and while another process waits, a
process may only take a free slot below its fair share, max_concurrency / processes. Without
this a process would hand its own freed slots to its own waiters faster than another process
polls, and starve it. Inside a process, one waiter per endpoint polls (POLL_* backoff) and a
local release wakes it at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from itertools import count
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TTL_S = 15.0
WAIT_TTL_S = 1.0
POLL_FIRST_S = 0.002
POLL_MAX_S = 0.05


def wait_for(tokens: float, per_minute: float) -> float:
    """Seconds until a bucket left at `tokens` by a reservation is out of debt."""
    return max(0.0, -tokens) * 60.0 / per_minute


class LimitsUnavailable(Exception):
    """The shared limiter's database or Redis cannot be reached (after one reconnect)."""


@dataclass
class _Endpoint:
    """Per endpoint, per store: the local queue of acquirers and the debt to settle."""

    gate: asyncio.Lock = field(default_factory=asyncio.Lock)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    acquirers: int = 0
    waiting: bool = False  # written down as waiting in the store
    debt: float = 0.0  # tpm settled since the last take, sent with the next one


class Store(ABC):
    backend: str
    transient: tuple[type[BaseException], ...] = ()

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.process = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.held: dict[str, int] = {}  # holder -> endpoint id
        self.endpoints: dict[int, _Endpoint] = {}
        self._numbers = count()
        self._renewer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._connecting = asyncio.Lock()
        self._connections = 0  # how many times connected; a failed op reconnects only once
        self.closed = False

    # -- what a backend implements -------------------------------------------------------------

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    async def try_acquire(self, endpoint_id: int, max_concurrency: int, holder: str) -> bool:
        """Take a free slot (fair share allowing) or write this process down as waiting."""

    @abstractmethod
    async def stop_waiting(self, endpoint_id: int) -> None: ...

    @abstractmethod
    async def release(self, endpoint_id: int, holders: list[str]) -> None: ...

    @abstractmethod
    async def renew(self, held: dict[str, int]) -> int:
        """Extend these leases by the TTL; how many were still held."""

    @abstractmethod
    async def reserve(self, endpoint_id: int, amounts: list[tuple[str, float, float]]) -> float:
        """Take (kind, per_minute, amount) from each bucket; seconds to wait before sending."""

    # -- shared --------------------------------------------------------------------------------

    def holder(self) -> str:
        return f"{self.process}/{next(self._numbers)}"

    def endpoint(self, endpoint_id: int) -> _Endpoint:
        state = self.endpoints.get(endpoint_id)
        if state is None:
            state = self.endpoints[endpoint_id] = _Endpoint()
        return state

    async def _reconnect(self, seen: int) -> None:
        async with self._connecting:
            if self._connections != seen:
                return  # another caller has just (re)connected
            if seen:
                await self.disconnect()
            await self.connect()
            self._connections += 1
            if self._renewer is None:
                self._renewer = asyncio.create_task(self._renew_forever())

    async def call(self, op: Callable[[], Awaitable[T]]) -> T:
        """`op` on the connection; on a dropped connection, reconnect once and retry."""
        try:
            if not self._connections:
                await self._reconnect(0)
            seen = self._connections
            try:
                return await op()
            except self.transient as exc:
                log.warning("limits (%s): %s; reconnecting", self.backend, exc)
            await self._reconnect(seen)
            return await op()
        except self.transient as exc:
            raise LimitsUnavailable(f"{self.backend}: {exc}") from exc

    def in_background(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.ensure_future(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _renew_forever(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.ttl_s / 3)
                if not self.held:
                    continue
                held = dict(self.held)
                try:
                    kept = await self.call(partial(self.renew, held))
                except LimitsUnavailable as exc:
                    log.warning("limits: could not renew %d leases: %s", len(held), exc)
                    continue
                if kept < len(held):
                    log.warning("limits: %d of %d leases had expired", len(held) - kept, len(held))
        finally:
            self.closed = True
            await self._close()

    async def aclose(self) -> None:
        """Release what this process holds and disconnect (asyncio.run's end does it too)."""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        elif not self.closed:
            self.closed = True
            await self.disconnect()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _close(self) -> None:
        by_endpoint: dict[int, list[str]] = {}
        for holder, endpoint_id in self.held.items():
            by_endpoint.setdefault(endpoint_id, []).append(holder)
        self.held.clear()
        try:
            for endpoint_id, holders in by_endpoint.items():
                await self.release(endpoint_id, holders)
        except self.transient:
            pass  # the leases expire within the TTL anyway
        finally:
            await self.disconnect()


_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Store]] = (
    weakref.WeakKeyDictionary()
)


def store_for(key: str, make: Callable[[], Store]) -> Store:
    """This event loop's store for `key` (a backend and its address), made on first use."""
    stores = _stores.setdefault(asyncio.get_running_loop(), {})
    store = stores.get(key)
    if store is None or store.closed:
        store = stores[key] = make()
    return store


async def close_stores() -> None:
    """Release and disconnect this loop's stores now (benchmarks, tests); asyncio.run's end
    does the same by cancelling their renewers."""
    for store in _stores.pop(asyncio.get_running_loop(), {}).values():
        await store.aclose()


class SharedLimits:
    """`generation.llm.limits.Limits` held in a store that every worker process shares.

    Buckets are reservations: a take debits at once (the balance may go negative) and then
    waits until the bucket would have held the tokens, so one round trip serves callers first
    come, first served; `InProcessLimits` waits first and debits after, to the same effect.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        endpoint_id: int,
        max_concurrency: int,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self.endpoint_id = endpoint_id
        self.max_concurrency = max_concurrency
        self.rpm, self.tpm = rpm, tpm
        self._sleep = sleep

    @property
    def backend(self) -> str:
        return self._store().backend

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        store = self._store()
        holder = await self._acquire(store)
        try:
            yield
        finally:
            store.held.pop(holder, None)
            try:
                # Shielded: a cancelled request still gives its slot back.
                await asyncio.shield(store.call(lambda: store.release(self.endpoint_id, [holder])))
            finally:
                store.endpoint(self.endpoint_id).released.set()

    async def _acquire(self, store: Store) -> str:
        state = store.endpoint(self.endpoint_id)
        holder = store.holder()
        state.acquirers += 1
        try:
            async with state.gate:
                delay = POLL_FIRST_S
                while not await self._try(store, holder):
                    state.waiting = True
                    state.released.clear()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(state.released.wait(), delay * random.uniform(1, 2))
                    delay = min(POLL_MAX_S, delay * 2)
                if state.waiting and state.acquirers == 1:  # nobody else here is waiting
                    state.waiting = False
                    await store.call(lambda: store.stop_waiting(self.endpoint_id))
        finally:
            state.acquirers -= 1
        return holder

    async def _try(self, store: Store, holder: str) -> bool:
        attempt = asyncio.ensure_future(
            store.call(lambda: store.try_acquire(self.endpoint_id, self.max_concurrency, holder))
        )
        try:
            granted = await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # Cancelled mid-statement: give back whatever the statement may have taken.
            store.in_background(self._release_after(store, attempt, holder))
            raise
        if granted:
            store.held[holder] = self.endpoint_id
        return granted

    async def _release_after(
        self, store: Store, attempt: asyncio.Future[bool], holder: str
    ) -> None:
        (granted,) = await asyncio.gather(attempt, return_exceptions=True)
        if granted is True:
            await store.call(lambda: store.release(self.endpoint_id, [holder]))

    async def take(self, tokens: int) -> None:
        """One request: 1 from rpm, `tokens` (plus any settled debt) from tpm."""
        amounts: list[tuple[str, float, float]] = []
        store = self._store()
        state = store.endpoint(self.endpoint_id)
        if self.rpm:
            amounts.append(("rpm", float(self.rpm), 1.0))
        if self.tpm:
            amounts.append(("tpm", float(self.tpm), min(tokens, self.tpm) + state.debt))
            state.debt = 0.0
        if not amounts:
            return
        wait = await store.call(lambda: store.reserve(self.endpoint_id, amounts))
        if wait > 0:
            await self._sleep(wait)

    def settle(self, delta: int) -> None:
        """Correct a tpm estimate once usage is known: sent with this process's next take."""
        if self.tpm:
            self._store().endpoint(self.endpoint_id).debt += delta
