"""The run driver: one bounded slice of a run, an asyncio loop inside a Celery task.

A slice takes the run's lease, loads what the recipe needs, keeps the endpoint's
concurrency full with the recipe's work, and commits finished work every half second
in one transaction with the run's cursor. After about SEEDBED_RUN_SLICE_SECONDS it
stops starting work, lets what is in flight finish (briefly), releases the lease and
asks to be re-enqueued. Pause and cancel are seen at the next commit.

Work keys make re-running safe: a stored sample or skip is never redone, and work that
was in flight when a worker died is simply done again by the next slice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, Q
from django.utils import timezone

from curation.projects.services import endpoint_config
from curation.samples.models import Sample
from generation.llm import CallRecord, LLMClient, LLMError
from generation.recipes.base import Outcome, Recipe, SampleDraft, SeedRow, Skip
from generation.recipes.prompts import PromptTemplate
from generation.recipes.registry import get_recipe, prompts_for
from generation.runs.models import Run, RunItem, RunStatus
from generation.runs.store import CommitResult, LeaseLost, fail_run, store_outcomes

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMIT_EVERY_S = 0.5
COMMIT_EVERY_N = 64


def slice_seconds() -> float:
    return float(getattr(settings, "SEEDBED_RUN_SLICE_SECONDS", 30.0))


def stale_seconds() -> float:
    return float(getattr(settings, "SEEDBED_RUN_STALE_SECONDS", 90.0))


@dataclass(frozen=True)
class SliceResult:
    status: str
    produced: int
    again: bool  # the run needs another slice


def acquire_lease(run_id: int) -> str | None:
    """Take the run for one slice, unless a live driver holds it. One conditional UPDATE."""
    token = secrets.token_hex(8)
    now = timezone.now()
    stale = now - timedelta(seconds=stale_seconds())
    taken = Run.objects.filter(
        Q(lease_token="") | Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True),
        pk=run_id,
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
    ).update(lease_token=token, heartbeat_at=now, status=RunStatus.RUNNING, slices=F("slices") + 1)
    if not taken:
        return None
    Run.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    return token


def drive(run_id: int) -> SliceResult:
    """One slice of a run. Safe to call twice at once: only one gets the lease."""
    token = acquire_lease(run_id)
    if token is None:
        row = Run.objects.filter(pk=run_id).values("status", "produced").first()
        return SliceResult(
            row["status"] if row else "missing", row["produced"] if row else 0, False
        )
    run = Run.objects.select_related("endpoint", "judge_endpoint").get(pk=run_id)
    try:
        recipe = get_recipe(run.recipe_id)
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
    Run.objects.filter(pk=run_id, lease_token=token).update(**updates)
    status = updates.get("status", run.status)
    return SliceResult(status, run.produced, again)


class Driver:
    """Implements RunContext for a recipe during one slice."""

    def __init__(self, run: Run, token: str, recipe: Recipe, params: Any) -> None:
        self.run_row = run
        self.run_id = run.pk
        self.token = token
        self.recipe = recipe
        self.params = params
        self.state: dict[str, Any] = dict(run.state or {})
        self.rng = random.Random(f"{run.pk}:{run.slices}")
        self.model = run.endpoint.chat_model if run.endpoint else ""
        judge_endpoint = run.judge_endpoint or run.endpoint
        self.judge_model = (
            judge_endpoint.judge_model or judge_endpoint.chat_model if judge_endpoint else ""
        )
        self.prompts: dict[str, PromptTemplate] = prompts_for(recipe.id, run.project_id)
        self.seeds: list[SeedRow] = self._load_seeds()
        self.deadline = time.monotonic() + slice_seconds()
        self.started = time.monotonic()
        self.base_active = run.active_seconds
        self.target = run.target_count
        self.produced = run.produced
        self.tokens_committed = run.tokens_in + run.tokens_out
        self.cost_committed = run.cost
        self.fatal_error = ""
        self.budget_hit = False
        self.exhausted = False
        self.stopped = False  # paused, cancelled or lease lost
        self._pending: list[Outcome] = []
        self._produced_keys: list[str] = []
        self._calls: list[CallRecord] = []
        self._filtered: Counter[str] = Counter()
        self._last_commit = time.monotonic()
        self._done_keys: set[str] | None = None
        self._consecutive_failures = 0
        self._successes = 0
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"run{run.pk}-db")
        self.max_inflight = 2 * (run.endpoint.max_concurrency if run.endpoint else 4)
        self.llm: LLMClient
        self.judge_llm: LLMClient

    # -- loading ----------------------------------------------------------------------

    def _load_seeds(self) -> list[SeedRow]:
        seed_set = self.run_row.seed_set
        if seed_set is None:
            return []
        rows = seed_set.seeds.order_by("position").values_list("id", "kind", "payload", "text")
        return [SeedRow(id=i, kind=k, payload=p, text=t) for i, k, p, t in rows]

    def done_keys(self) -> set[str]:
        """Work keys already finished in earlier slices: stored samples and skips."""
        if self._done_keys is None:
            stored = Sample.objects.filter(run_id=self.run_id, work_key__isnull=False)
            keys = {k for k in stored.values_list("work_key", flat=True) if k}
            keys.update(
                RunItem.objects.filter(run_id=self.run_id).values_list("work_key", flat=True)
            )
            self._done_keys = keys
        return self._done_keys

    # -- the slice ----------------------------------------------------------------------

    def run(self) -> None:
        # Loaded here, in the task's own thread, before the event loop starts.
        self.done_keys()
        try:
            asyncio.run(self._run_async())
        finally:
            # A lambda, so that `connection` resolves to the database thread's own.
            self._db.submit(lambda: connection.close()).result()
            self._db.shutdown(wait=True)
            close_old_connections()

    async def _run_async(self) -> None:
        run = self.run_row
        if run.endpoint is None:
            self.fatal_error = "The run has no model endpoint."
            return
        self.llm = LLMClient(endpoint_config(run.endpoint), recorder=self._record_call)
        self.judge_llm = (
            LLMClient(endpoint_config(run.judge_endpoint), recorder=self._record_call)
            if run.judge_endpoint
            else self.llm
        )
        try:
            if not self.should_stop():
                await self.recipe.run_slice(self)
            await self.flush()
        finally:
            await self.llm.aclose()
            if self.judge_llm is not self.llm:
                await self.judge_llm.aclose()

    def _record_call(self, record: CallRecord) -> None:
        # Not `self._calls.append`: flush() swaps the list, and a bound method would keep
        # appending to the old one.
        self._calls.append(record)

    async def in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    # -- what recipes call --------------------------------------------------------------

    def remaining(self) -> int:
        """Samples still wanted, counting those finished but not yet committed."""
        pending = sum(len(o) for o in self._pending if not isinstance(o, Skip))
        return max(0, self.target - self.produced - pending)

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def _over_budget(self) -> bool:
        """The committed usage plus the calls finished since the last commit."""
        run = self.run_row
        if run.budget_tokens is None and run.budget_cost is None:
            return False
        tokens = self.tokens_committed + sum(c.tokens_in + c.tokens_out for c in self._calls)
        cost = self.cost_committed + sum((c.cost for c in self._calls), Decimal(0))
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

    def mark_exhausted(self) -> None:
        """The recipe has no more work: the run completes even below its target."""
        self.exhausted = True

    async def skips_of_run(self, prefix: str) -> list[dict[str, Any]]:
        """Filtered work items whose key starts with prefix, with their JSON detail."""

        def load() -> list[dict[str, Any]]:
            rows = (
                RunItem.objects.filter(
                    run_id=self.run_id,
                    outcome=RunItem.Outcome.FILTERED,
                    work_key__startswith=prefix,
                )
                .order_by("id")
                .values("work_key", "reason", "detail")
            )
            return [{**r, "detail": json.loads(r["detail"] or "{}")} for r in rows]

        return await self.in_db(load)

    def count_filtered(self, reason: str, n: int = 1) -> None:
        self._filtered[reason] += n

    async def samples_of_run(self, **filters: Any) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            return [
                dict(row)
                for row in Sample.objects.filter(run_id=self.run_id, **filters)
                .order_by("id")
                .values("id", "messages", "extra", "work_key", "seed_ids")
            ]

        return await self.in_db(load)

    async def process(
        self,
        items: Iterable[tuple[str, Any]],
        worker: Callable[[str, Any], Awaitable[Outcome]],
        *,
        samples_per_item: float = 1.0,
    ) -> bool:
        """Run `worker` over items not yet done, keeping the endpoint busy.

        Returns True when the items ran out (the recipe has nothing more to do).
        Starts no more items than the remaining target needs (given the expected yield).
        """
        done = self.done_keys()
        iterator = iter(items)
        inflight: set[asyncio.Task[tuple[str, Outcome]]] = set()
        exhausted = False
        while True:
            while not exhausted and len(inflight) < self.max_inflight and not self.should_stop():
                if len(inflight) * samples_per_item >= self.remaining():
                    break
                try:
                    key, payload = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                if key in done:
                    continue
                done.add(key)
                inflight.add(asyncio.create_task(self._guarded(worker, key, payload)))
            if not inflight:
                break
            timeout = max(0.05, COMMIT_EVERY_S - (time.monotonic() - self._last_commit))
            finished, inflight = await asyncio.wait(
                inflight, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in finished:
                key, outcome = task.result()
                self._pending.append(outcome)
                if not isinstance(outcome, Skip):
                    self._produced_keys.append(key)
            await self.maybe_flush()
            if self.time_left() < -self.grace_seconds:
                for task in inflight:
                    task.cancel()  # the next slice redoes them: their keys are not stored
                await asyncio.gather(*inflight, return_exceptions=True)
                break
        await self.flush()
        return exhausted and not inflight and not self.stopped

    @property
    def grace_seconds(self) -> float:
        return float(getattr(settings, "SEEDBED_RUN_GRACE_SECONDS", 10))

    async def run_instructions(self) -> list[str]:
        """Instructions this run has accepted so far (Self-Instruct's machine pool)."""

        def load() -> list[str]:
            from django.db.models.fields.json import KT

            stored = (
                Sample.objects.filter(run_id=self.run_id, extra__has_key="instruction")
                .annotate(instruction=KT("extra__instruction"))
                .order_by("instruction")
                .values_list("instruction", flat=True)
                .distinct()
            )
            dropped = RunItem.objects.filter(
                run_id=self.run_id,
                outcome=RunItem.Outcome.FILTERED,
                reason__in=["instance_conflict", "no_valid_instances"],
            ).values_list("detail", flat=True)
            return list(dict.fromkeys([*stored, *dropped]))

        return await self.in_db(load)

    async def attempt(
        self, worker: Callable[[str, Any], Awaitable[Any]], key: str, payload: Any
    ) -> tuple[str, Any]:
        """Run one unit of work; an LLM failure becomes a failed Skip (and may fail the run)."""
        return await self._guarded(worker, key, payload)

    async def _guarded(
        self, worker: Callable[[str, Any], Awaitable[Outcome]], key: str, payload: Any
    ) -> tuple[str, Outcome]:
        try:
            outcome = await worker(key, payload)
        except LLMError as exc:
            self._consecutive_failures += 1
            limit = int(getattr(settings, "SEEDBED_RUN_MAX_CONSECUTIVE_FAILURES", 8))
            if self._consecutive_failures >= limit and self._successes == 0:
                self.fatal_error = (
                    f"The endpoint failed {self._consecutive_failures} times in a row "
                    f"with no success; last error: {exc}"
                )
            return key, Skip(key, RunItem.Outcome.FAILED, type(exc).__name__, str(exc))
        self._consecutive_failures = 0
        self._successes += 1
        return key, outcome

    async def emit(self, outcomes: list[Outcome]) -> None:
        """For recipes that drive their own loop (Self-Instruct): queue and maybe commit."""
        self._pending.extend(outcomes)
        await self.maybe_flush()

    async def maybe_flush(self) -> None:
        if self._pending and (
            len(self._pending) >= COMMIT_EVERY_N
            or time.monotonic() - self._last_commit >= COMMIT_EVERY_S
        ):
            await self.flush()

    async def commit(self, outcomes: list[Outcome]) -> None:
        self._pending.extend(outcomes)
        await self.flush()

    async def flush(self) -> None:
        if not self._pending and not self._calls and not self._filtered:
            return
        drafts = [d for o in self._pending if not isinstance(o, Skip) for d in o]
        skips = [o for o in self._pending if isinstance(o, Skip)]
        produced_keys, self._produced_keys = self._produced_keys, []
        calls, self._calls = self._calls, []
        filtered, self._filtered = self._filtered, Counter()
        self._pending = []
        active = self.base_active + (time.monotonic() - self.started)
        result: CommitResult = await self.in_db(
            store_outcomes,
            self.run_id,
            self.token,
            drafts,
            skips,
            produced_keys,
            calls,
            filtered,
            dict(self.state),
            active,
        )
        self._last_commit = time.monotonic()
        self.produced = result.produced
        self.tokens_committed = result.tokens
        self.cost_committed = result.cost
        self.budget_hit = self.budget_hit or result.budget_exhausted
        if result.status != RunStatus.RUNNING:
            self.stopped = True  # paused or cancelled from outside


def sample_drafts(outcome: Outcome) -> list[SampleDraft]:
    return [] if isinstance(outcome, Skip) else outcome
