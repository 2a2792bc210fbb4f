"""The run driver: one bounded slice of a run, an asyncio loop inside a Celery task.

A slice takes the run's lease, loads the recipe, its pinned prompts, the role endpoints
and the run's open work, runs items (generation/runs/items.py) with the endpoint's
concurrency full, and commits what finished, the journals of what did not, new spawned
work and pool entries every half second in one transaction with the run's cursor. After
about SEEDBED_RUN_SLICE_SECONDS it stops starting items; items stop before their next step
(the kit parks them) while the steps in flight finish (for at most
SEEDBED_RUN_GRACE_SECONDS); then it saves their journals and asks to be re-enqueued. With
nothing to commit it still beats the run's heartbeat every 10 s.

A run also ends by itself: as failed when it is futile (N finished items in a row made
nothing, default max(200, 5 x target)), naming the top filter reasons.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from curation.projects.models import ModelEndpoint
from generation.llm import CallRecord, LLMClient
from generation.recipes.base import SeedRow
from generation.recipes.kit.item import Item
from generation.recipes.kit.pools import Admitted, EmbeddingPool, RougePool
from generation.recipes.kit.recipe import Recipe
from generation.recipes.prompts import PromptTemplate
from generation.recipes.registry import get_recipe, prompts_for
from generation.runs import roles
from generation.runs.host import SliceHost
from generation.runs.items import Scheduler, cancel, run_item
from generation.runs.lease import (
    SliceResult,
    acquire_lease,
    futility_limit,
    futility_message,
    item_retries,
    slice_seconds,
)
from generation.runs.models import Run, RunItem, RunPoolEntry, RunStatus
from generation.runs.store import (
    Batch,
    CommitResult,
    Finished,
    LeaseLost,
    beat,
    fail_run,
    store_batch,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMIT_EVERY_S = 0.5
COMMIT_EVERY_N = 64
HEARTBEAT_EVERY_S = 10.0  # with nothing to commit; the stale time is 90 s
# An unfinished item's journal is written once its oldest unsaved step is this old (and
# always at the end of a slice): a crash loses at most this much of an item's work.
JOURNAL_AFTER_S = 2.0
Outcome = RunItem.Outcome


def drive(run_id: int) -> SliceResult:
    """One slice of a run. Safe to call twice at once: only one gets the lease."""
    token = acquire_lease(run_id)
    if token is None:
        row = Run.objects.filter(pk=run_id).values("status", "produced").first()
        return SliceResult(
            row["status"] if row else "missing", row["produced"] if row else 0, False
        )
    run = Run.objects.select_related("endpoint", "judge_endpoint", "seed_set").get(pk=run_id)
    try:
        recipe = get_recipe(run.recipe_id, run.recipe_version)
        params = recipe.Params.model_validate(run.params)
        driver = Driver(run, token, recipe, params)
        driver.run()
    except LeaseLost:
        log.warning("run %s: lease lost; another driver continues", run_id)
        return SliceResult(RunStatus.RUNNING, 0, False)
    except Exception as exc:
        log.exception("run %s: slice crashed", run_id)
        fail_run(run_id, token, f"{type(exc).__name__}: {exc}")
        return SliceResult(RunStatus.FAILED, run.produced, False)
    return finish_slice(run_id, token, driver)


def finish_slice(run_id: int, token: str, driver: Driver) -> SliceResult:
    now = timezone.now()
    run = Run.objects.get(pk=run_id)
    again = False
    updates: dict[str, Any] = {"lease_token": ""}
    if run.lease_token != token:
        return SliceResult(run.status, run.produced, False)
    if run.status == RunStatus.RUNNING:
        if driver.fatal_error:
            updates.update(status=RunStatus.FAILED, last_error=driver.fatal_error, finished_at=now)
        elif run.produced >= run.target_count:
            updates.update(status=RunStatus.COMPLETED, finished_at=now)
        elif driver.budget_hit:
            updates.update(
                status=RunStatus.BUDGET_EXHAUSTED,
                finished_at=now,
                last_error="The budget is spent; raise it and resume to go on.",
            )
        elif driver.exhausted and run.produced == 0 and driver.streak:
            driver.kit["futile"] = True
            updates.update(
                status=RunStatus.FAILED,
                finished_at=now,
                last_error=futility_message(
                    run, driver.streak, "The recipe ran out of work without a sample"
                ),
            )
        elif driver.exhausted:
            updates.update(
                status=RunStatus.COMPLETED,
                finished_at=now,
                last_error=(
                    f"The recipe ran out of work after {run.produced} of "
                    f"{run.target_count} samples (see filtered counts)."
                ),
            )
        else:
            again = True
    if driver.kit.get("futile"):  # set after the last flush: the run page links it
        updates["state"] = {**run.state, "kit": {**run.state.get("kit", {}), "futile": True}}
    Run.objects.filter(pk=run_id, lease_token=token).update(**updates)
    status = updates.get("status", run.status)
    return SliceResult(status, run.produced, again)


class Driver(SliceHost):
    """One slice of one run; the Host that every Item of the slice talks to."""

    def __init__(self, run: Run, token: str, recipe: Recipe[Any], params: Any) -> None:
        self.run_row = run
        self.run_id = run.pk
        self.token = token
        self.recipe = recipe
        self.params = params
        self.target = run.target_count
        self.state: dict[str, Any] = dict(run.state or {})
        self.kit: dict[str, Any] = self.state.setdefault("kit", {})
        self.kit.setdefault("notes", {})  # it.note counts; replaced whole, never edited
        pinned = self.state.get("prompts")
        self.prompts: dict[str, PromptTemplate] = prompts_for(recipe.id, run.project_id, pinned)
        self.state["prompts"] = {n: t.version for n, t in self.prompts.items()}
        self.seeds = self._load_seeds()
        self._seeds_by_id = {s.id: s for s in self.seeds}
        self.role_map = roles.resolve(recipe.meta.roles, roles.run_mapping(run))
        self._endpoints = {
            e.pk: e for e in ModelEndpoint.objects.filter(pk__in=set(self.role_map.values()))
        }
        policy = self._endpoints.get(self.role_map.get("policy", 0))
        self.max_inflight = 2 * (policy.max_concurrency if policy else 4)
        self.pools: dict[str, RougePool | EmbeddingPool] = {}
        self.admitted: list[Admitted] = []
        self.deadline = time.monotonic() + slice_seconds()
        self.started = time.monotonic()
        self.base_active = run.active_seconds
        self.produced = run.produced
        self.tokens_committed = run.tokens_in + run.tokens_out
        self.cost_committed = run.cost
        self.fatal_error = ""
        self.budget_hit = False
        self.exhausted = False
        self.stopped = False  # paused, cancelled or lease lost
        self.batch = Batch()
        self._pending_samples = 0
        self._last_commit = self._last_beat = time.monotonic()
        self._consecutive_failures = 0
        self._successes = 0
        self._clients: dict[int, LLMClient] = {}
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"run{run.pk}-db")
        self._open_items: list[tuple[str, Any, str, int]] = []
        self.journals: dict[str, list[dict[str, Any]]] = {}
        self.done: set[str] = set()
        self._pool_rows: list[tuple[str, str, str, bytes | None]] = []
        self.streak = int(self.kit.get("streak", 0))
        self.failed_now = 0  # items that failed in this slice (retried in the next)
        self.limit = futility_limit(run)

    # -- loading ----------------------------------------------------------------------

    def _load_seeds(self) -> list[SeedRow]:
        seed_set = self.run_row.seed_set
        if seed_set is None:
            return []
        rows = seed_set.seeds.order_by("position").values_list("id", "kind", "payload", "text")
        accepted = self.recipe.meta.inputs
        return [
            SeedRow(id=i, kind=k, payload=p, text=t)
            for i, k, p, t in rows
            if not accepted or k in accepted
        ]

    def _load_open_work(self) -> None:
        """Done keys, the queue (spawned/unfinished/retryable items), journals, pool entries."""
        retries = item_retries()
        items = RunItem.objects.filter(run_id=self.run_id)
        # Finished work: only its keys (a large run has many; payloads stay in the table).
        done = items.filter(
            Q(outcome__in=[Outcome.PRODUCED, Outcome.FILTERED])
            | Q(outcome=Outcome.FAILED, attempts__gt=retries)
        )
        self.done.update(done.values_list("work_key", flat=True).iterator(chunk_size=10_000))
        # Open work (the partial index runitem_open): queued, unfinished, retryable.
        open_items = items.filter(
            Q(outcome__in=[Outcome.PENDING, Outcome.STARTED])
            | Q(outcome=Outcome.FAILED, attempts__lte=retries)
        ).order_by("priority", "id")
        for key, lane, payload, priority, checkpoint in open_items.values_list(
            "work_key", "lane", "payload", "priority", "checkpoint"
        ).iterator(chunk_size=2000):
            if checkpoint:
                self.journals[key] = checkpoint
            if lane:
                self._open_items.append((key, payload, lane, priority))
        self._pool_rows = [
            (pool, key, text, bytes(vector) if vector is not None else None)
            for pool, key, text, vector in RunPoolEntry.objects.filter(run_id=self.run_id)
            .order_by("id")
            .values_list("pool", "key", "text", "vector")
        ]

    def _record_call(self, record: CallRecord) -> None:
        self.batch.calls.append(record)

    # -- the slice ----------------------------------------------------------------------

    def run(self) -> None:
        # Loaded here, in the task's own thread, before the event loop starts.
        self._load_open_work()
        try:
            asyncio.run(self._run_async())
        finally:
            # A lambda, so that `connection` resolves to the database thread's own.
            self._db.submit(lambda: connection.close()).result()
            self._db.shutdown(wait=True)
            close_old_connections()

    async def _run_async(self) -> None:
        if "policy" not in self.role_map:
            self.fatal_error = "The run has no model endpoint."
            return
        try:
            if not self.should_stop():
                await self.recipe.setup(self)
                for pool, key, text, vector in self._pool_rows:
                    if pool in self.pools:
                        self.pools[pool].load(key, text, vector)
                await self._loop()
            await self.flush()
        finally:
            for c in self._clients.values():
                await c.aclose()

    async def _loop(self) -> None:
        meta = self.recipe.meta
        sched = Scheduler(
            iter(self.recipe.source(self)), self.done, meta.yield_per_item, meta.spawns_per_item
        )
        # Unfinished items (with a journal) go first within their priority: their steps so
        # far are paid for.
        self._open_items.sort(key=lambda row: (row[3], row[0] not in self.journals))
        for key, payload, lane, priority in self._open_items:
            sched.queue.push(key, payload, lane, priority)
        inflight: dict[asyncio.Task[Finished], Item[Any]] = {}
        while True:
            while len(inflight) < self.max_inflight and not self.should_stop():
                need = self.remaining() - sched.expected()
                if need <= 0:
                    break
                nxt = sched.next(self.max_inflight, need)
                if nxt is None:
                    break
                key, payload, lane = nxt
                item: Item[Any] = Item(
                    self, key, payload, self.params, lane=lane, journal=self.journals.pop(key, None)
                )
                inflight[asyncio.create_task(run_item(self, item))] = item
                if lane:
                    sched.running_spawned += 1
                else:
                    sched.running_fresh += 1
            if not inflight:
                # Out of work, unless items failed in this slice: those are retried next.
                if not sched.source_left and not len(sched.queue) and not self.should_stop():
                    self.exhausted = self.failed_now == 0
                break
            timeout = max(0.05, COMMIT_EVERY_S - (time.monotonic() - self._last_commit))
            finished, _ = await asyncio.wait(
                inflight, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in finished:
                self._finish(inflight.pop(task), task.result(), sched)
            await self.maybe_flush(inflight.values())
            # After the slice's end, items park at their next step: once no step is running
            # (or the grace is over), cancel them; their journals go into the last flush.
            parked = self.time_left() <= 0 and self.active_steps == 0
            if parked or self.time_left() < -self.grace_seconds:
                await cancel(set(inflight))
                break
        self._save_journals(inflight.values())

    def _finish(self, item: Item[Any], result: Finished, sched: Scheduler) -> None:
        if item.lane:
            sched.running_spawned -= 1
        else:
            sched.running_fresh -= 1
        failed = result.outcome == Outcome.FAILED
        self.failed_now += failed
        spawns = [] if failed else [s for s in item.spawns if s["key"] not in self.done]
        sched.finished(item.lane, len(result.drafts), len(spawns))
        for s in spawns:
            sched.queue.push(s["key"], s["payload"], s["lane"], s["priority"])
        self.batch.spawns.extend(spawns)
        if not failed:
            self.batch.filtered.update(item.counts)
        if item.notes and not failed:  # a failed item is retried and notes again
            self.kit["notes"] = dict(Counter(self.kit["notes"]) + item.notes)
        self.batch.finished.append(result)
        self._pending_samples += len(result.drafts)
        self.kit["replayed_steps"] = int(self.kit.get("replayed_steps", 0)) + item.replayed
        # Stored samples end a streak (at the commit: drafts may all be exact duplicates);
        # an item that only spawned new work is neutral; a dropped or failed item extends
        # it, even if it re-queued work (Evol-Instruct's parents).
        if not result.drafts and (not spawns or result.outcome != Outcome.PRODUCED):
            self.streak += 1
        if self.streak >= self.limit and not self.fatal_error:
            self.fatal_error = "futile"

    def _save_journals(self, items: Any, min_age: float = 0.0) -> None:
        """Journals of unfinished items; in periodic flushes only those changed more than
        min_age ago, so that short items that finish in a moment are never written."""
        now = time.monotonic()
        for item in items:
            if item.dirty and now - item.dirty_since >= min_age:
                self.batch.journals[item.key] = item.journal
                item.dirty = False

    def _over_budget(self) -> bool:
        run = self.run_row
        if run.budget_tokens is None and run.budget_cost is None:
            return False
        calls = self.batch.calls
        tokens = self.tokens_committed + sum(c.tokens_in + c.tokens_out for c in calls)
        cost = self.cost_committed + sum((c.cost for c in calls), Decimal(0))
        if run.budget_tokens is not None and tokens >= run.budget_tokens:
            return True
        return run.budget_cost is not None and cost >= run.budget_cost

    def should_stop(self) -> bool:
        if not self.budget_hit and self._over_budget():
            self.budget_hit = True
        return (
            self.stopped
            or bool(self.fatal_error)
            or self.budget_hit
            or self.remaining() <= 0
            or self.time_left() <= 0
        )

    async def in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def maybe_flush(self, inflight: Any = ()) -> None:
        if len(self.batch.finished) >= COMMIT_EVERY_N or (
            time.monotonic() - self._last_commit >= COMMIT_EVERY_S
        ):
            self._save_journals(inflight, JOURNAL_AFTER_S)
            await self.flush()

    async def flush(self) -> None:
        if not self.batch:
            # Nothing finished (every item waits on a long call): keep the lease alive, so
            # the sweeper does not take a slice that is working for a stale one.
            if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_S:
                await self.in_db(beat, self.run_id, self.token)
                self._last_beat = time.monotonic()
            return
        self._last_beat = time.monotonic()
        batch, self.batch = self.batch, Batch()
        self._pending_samples = 0
        batch.admitted, self.admitted = self.admitted, []
        self.kit["streak"] = self.streak
        active = self.base_active + (time.monotonic() - self.started)
        result: CommitResult = await self.in_db(
            store_batch, self.run_id, self.token, batch, dict(self.state), active
        )
        self._last_commit = time.monotonic()
        self.produced = result.produced
        self.tokens_committed = result.tokens
        self.cost_committed = result.cost
        self.budget_hit = self.budget_hit or result.budget_exhausted
        self.streak = 0 if result.stored else self.streak + result.barren
        if self.fatal_error == "futile" or (self.streak >= self.limit and not self.fatal_error):
            run = await self.in_db(lambda: Run.objects.get(pk=self.run_id))
            self.fatal_error = futility_message(run, self.streak)
            self.kit["futile"] = True
        if result.status != RunStatus.RUNNING:
            self.stopped = True  # paused or cancelled from outside
