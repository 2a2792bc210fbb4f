"""Writing a slice's results: samples, item outcomes, journals, spawns and calls in one transaction.

Runs in the driver's database thread. Holding the run row's lock makes the driver the
only writer for its run, so the target can be trimmed exactly: a run never stores more
samples than it asked for, and a crash between commits loses nothing that was stored.
Unfinished items' journals are written in the same commit, so a crash loses at most the
steps since the last one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from curation.projects.models import LLMCall
from curation.samples.models import Judgement, Sample, content_hash
from curation.samples.signals import samples_stored
from generation.llm import CallRecord
from generation.recipes.base import SampleDraft
from generation.recipes.kit.pools import Admitted
from generation.runs.models import Run, RunItem, RunPoolEntry, RunStatus

Outcome = RunItem.Outcome


class LeaseLost(Exception):
    """Another driver took this run over (our heartbeat went stale); stop quietly."""


@dataclass
class Finished:
    """One item's end: produced (with drafts, or only spawned work), filtered or failed."""

    key: str
    outcome: str
    reason: str = ""
    detail: str = ""
    raw_output: str = ""
    drafts: list[SampleDraft] = field(default_factory=list)
    checkpoint: list[dict[str, Any]] | None = None  # kept on failure, for the retry


@dataclass
class Batch:
    finished: list[Finished] = field(default_factory=list)
    journals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    spawns: list[dict[str, Any]] = field(default_factory=list)
    admitted: list[Admitted] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    filtered: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(
            self.finished
            or self.journals
            or self.spawns
            or self.admitted
            or self.calls
            or self.filtered
        )


@dataclass(frozen=True)
class CommitResult:
    status: str
    produced: int
    target: int
    budget_exhausted: bool
    stored: int
    tokens: int
    cost: Decimal
    barren: int  # items that made samples, all of them dropped as exact duplicates


def _sample(run: Run, draft: SampleDraft, digest: str) -> Sample:
    return Sample(
        project_id=run.project_id,
        run=run,
        kind=draft.kind,
        messages=draft.messages,
        chosen=draft.chosen,
        rejected=draft.rejected,
        label=draft.label[:200],
        tools=draft.tools,
        extra=draft.extra,
        seed_ids=draft.seed_ids,
        parent_id=draft.parent_id,
        step=draft.step[:64],
        recipe_id=run.recipe_id,
        recipe_version=run.recipe_version,
        prompt_version=draft.prompt_version[:64],
        model=draft.model[:200],
        tokens_in=draft.tokens_in,
        tokens_out=draft.tokens_out,
        source="run",
        work_key=draft.work_key,
        content_hash=digest,
        judge_score=draft.judge_score,
        judge_confidence=draft.judge_confidence,
        tags=draft.tags,
    )


def beat(run_id: int, lease_token: str) -> None:
    """Only the heartbeat, for a slice whose items are all waiting on long calls."""
    if not Run.objects.filter(pk=run_id, lease_token=lease_token).update(
        heartbeat_at=timezone.now()
    ):
        raise LeaseLost(run_id)


def store_batch(
    run_id: int, lease_token: str, batch: Batch, state: dict[str, Any], active_seconds: float
) -> CommitResult:
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.lease_token != lease_token:
            raise LeaseLost(run_id)
        filtered = Counter(batch.filtered)
        keep, barren = _keep(run, batch.finished, filtered)
        _resolve_parents(run, keep)
        try:
            with transaction.atomic():
                ids = _insert(run, keep)
        except IntegrityError:
            # Another run of the project stored the same content a moment ago.
            ids = _insert_one_by_one(run, keep, filtered)
        stored = len(ids)
        if ids:
            samples_stored.send(sender=run, sample_ids=ids)
        _write_items(run, batch)
        if batch.admitted:
            RunPoolEntry.objects.bulk_create(
                [
                    RunPoolEntry(
                        run=run, pool=a.pool, key=a.key[:240], text=a.text, vector=a.vector
                    )
                    for a in batch.admitted
                ],
                ignore_conflicts=True,
            )
        for f in batch.finished:
            if f.outcome == Outcome.FILTERED:
                filtered[f.reason] += 1
        LLMCall.objects.bulk_create(
            [LLMCall.from_record(run.project_id, c, run_id=run.pk) for c in batch.calls]
        )
        merged = Counter(run.filtered)
        merged.update(filtered)
        run.filtered = dict(merged)
        run.produced += stored
        run.failed += sum(1 for f in batch.finished if f.outcome == Outcome.FAILED)
        run.tokens_in += sum(c.tokens_in for c in batch.calls)
        run.tokens_out += sum(c.tokens_out for c in batch.calls)
        run.cost += sum((c.cost for c in batch.calls), Decimal(0))
        run.state = state
        run.active_seconds = active_seconds
        run.heartbeat_at = timezone.now()
        run.save(
            update_fields=[
                "filtered",
                "produced",
                "failed",
                "tokens_in",
                "tokens_out",
                "cost",
                "state",
                "active_seconds",
                "heartbeat_at",
            ]
        )
        return CommitResult(
            status=run.status,
            produced=run.produced,
            target=run.target_count,
            budget_exhausted=budget_exhausted(run),
            stored=stored,
            tokens=run.tokens_in + run.tokens_out,
            cost=run.cost,
            barren=barren,
        )


def budget_exhausted(run: Run) -> bool:
    if run.budget_tokens is not None and run.tokens_in + run.tokens_out >= run.budget_tokens:
        return True
    return run.budget_cost is not None and run.cost >= run.budget_cost


Fresh = list[tuple[SampleDraft, str]]  # a draft and its content hash


def _keep(run: Run, finished: list[Finished], filtered: Counter[str]) -> tuple[Fresh, int]:
    """The drafts to insert, in item order, within the target; relabels items that lose all.

    An item whose drafts were all exact duplicates of project content becomes filtered
    (exact_duplicate); one whose drafts the target cut becomes filtered (over_target).
    """
    drafts = [d for f in finished for d in f.drafts]
    if not drafts:
        return [], 0
    done = set(
        Sample.objects.filter(run=run, work_key__in=[d.work_key for d in drafts]).values_list(
            "work_key", flat=True
        )
    )
    hashes = [content_hash(d) for d in drafts]
    existing = set(
        Sample.objects.filter(project_id=run.project_id, content_hash__in=hashes).values_list(
            "content_hash", flat=True
        )
    )
    room = max(0, run.target_count - run.produced)
    keep: Fresh = []
    seen: set[str] = set()
    barren = 0
    digests = iter(hashes)
    for f in finished:
        if not f.drafts:
            continue
        fresh: Fresh = []
        redone = False
        for d in f.drafts:
            digest = next(digests)
            if d.work_key in done or d.work_key in seen:
                redone = True  # stored by an earlier slice that died before its item row
                continue
            if digest in existing:
                filtered["exact_duplicate"] += 1
                continue
            existing.add(digest)
            seen.add(d.work_key)
            fresh.append((d, digest))
        if not fresh:
            if not redone:
                f.outcome, f.reason, barren = Outcome.FILTERED, "exact_duplicate", barren + 1
            continue
        if room <= 0:
            f.outcome, f.reason = Outcome.FILTERED, "over_target"
            continue
        keep.extend(fresh[:room])
        room -= len(fresh[:room])
    return keep, barren


def _resolve_parents(run: Run, keep: Fresh) -> None:
    wanted = {d.parent_key for d, _ in keep if d.parent_key and d.parent_id is None}
    if not wanted:
        return
    ids = dict(Sample.objects.filter(run=run, work_key__in=wanted).values_list("work_key", "id"))
    for d, _ in keep:
        if d.parent_key and d.parent_id is None:
            d.parent_id = ids.get(d.parent_key)


def _write_items(run: Run, batch: Batch) -> None:
    """Item rows: finished outcomes (upserted over pending/started), spawns, journals."""
    # Spawns first: an item spawned and finished in one batch keeps its payload.
    if batch.spawns:
        RunItem.objects.bulk_create(
            [
                RunItem(
                    run=run,
                    work_key=s["key"][:200],
                    outcome=Outcome.PENDING,
                    lane=s["lane"][:32],
                    payload=s["payload"],
                    priority=s["priority"],
                )
                for s in batch.spawns
            ],
            ignore_conflicts=True,
        )
    if batch.finished:
        RunItem.objects.bulk_create(
            [
                RunItem(
                    run=run,
                    work_key=f.key,
                    outcome=f.outcome,
                    reason=f.reason[:64],
                    detail=f.detail[:100_000],
                    raw_output=f.raw_output,
                    checkpoint=f.checkpoint,
                )
                for f in batch.finished
            ],
            update_conflicts=True,
            unique_fields=["run", "work_key"],
            update_fields=["outcome", "reason", "detail", "raw_output", "checkpoint"],
        )
        failed = [f.key for f in batch.finished if f.outcome == Outcome.FAILED]
        if failed:
            RunItem.objects.filter(run=run, work_key__in=failed).update(attempts=F("attempts") + 1)
    if batch.journals:
        RunItem.objects.bulk_create(
            [
                RunItem(run=run, work_key=k, outcome=Outcome.STARTED, checkpoint=j)
                for k, j in batch.journals.items()
            ],
            update_conflicts=True,
            unique_fields=["run", "work_key"],
            update_fields=["outcome", "checkpoint"],
        )


def _insert(run: Run, fresh: Fresh) -> list[int]:
    samples = Sample.objects.bulk_create([_sample(run, d, digest) for d, digest in fresh])
    _judgements(samples, [d for d, _ in fresh])
    # Parents stored in this same batch: link them now that they have ids.
    ids = {s.work_key: s.pk for s in samples}
    orphans = []
    for sample, (d, _) in zip(samples, fresh, strict=True):
        if d.parent_key and sample.parent_id is None and d.parent_key in ids:
            sample.parent_id = ids[d.parent_key]
            orphans.append(sample)
    if orphans:
        Sample.objects.bulk_update(orphans, ["parent"])
    return [s.pk for s in samples]


def _insert_one_by_one(run: Run, fresh: Fresh, filtered: Counter[str]) -> list[int]:
    stored = []
    for d, digest in fresh:
        try:
            with transaction.atomic():
                sample = _sample(run, d, digest)
                sample.save()
                _judgements([sample], [d])
                stored.append(sample.pk)
        except IntegrityError:
            filtered["exact_duplicate"] += 1
    return stored


def _judgements(samples: list[Sample], drafts: list[SampleDraft]) -> None:
    Judgement.objects.bulk_create(
        [
            Judgement(sample=s, run_id=s.run_id, **Judgement.fields_from(j))
            for s, d in zip(samples, drafts, strict=True)
            for j in d.judgements
        ]
    )


def fail_run(run_id: int, lease_token: str, error: str) -> None:
    Run.objects.filter(pk=run_id, lease_token=lease_token, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED,
        last_error=error[:4000],
        finished_at=timezone.now(),
        lease_token="",
    )
