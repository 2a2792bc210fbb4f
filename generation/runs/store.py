"""Writing a slice's results: samples, skips, judgements and LLM calls in one transaction.

Runs in the driver's database thread. Holding the run row's lock makes the driver the
only writer for its run, so the target can be trimmed exactly: a run never stores more
samples than it asked for, and a crash between commits loses nothing that was stored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from curation.projects.models import LLMCall
from curation.samples.models import Judgement, Sample, content_hash
from generation.llm import CallRecord
from generation.recipes.base import SampleDraft, Skip
from generation.runs.models import Run, RunItem, RunStatus


class LeaseLost(Exception):
    """Another driver took this run over (our heartbeat went stale); stop quietly."""


@dataclass(frozen=True)
class CommitResult:
    status: str
    produced: int
    target: int
    budget_exhausted: bool
    stored: int
    tokens: int
    cost: Decimal


def _sample(run: Run, recipe_version: str, draft: SampleDraft, digest: str) -> Sample:
    return Sample(
        project_id=run.project_id,
        run=run,
        kind=draft.kind,
        messages=draft.messages,
        chosen=draft.chosen,
        rejected=draft.rejected,
        label=draft.label,
        tools=draft.tools,
        extra=draft.extra,
        seed_ids=draft.seed_ids,
        parent_id=draft.parent_id,
        step=draft.step,
        recipe_id=run.recipe_id,
        recipe_version=recipe_version,
        prompt_version=draft.prompt_version,
        model=draft.model,
        tokens_in=draft.tokens_in,
        tokens_out=draft.tokens_out,
        source="run",
        work_key=draft.work_key,
        content_hash=digest,
        judge_score=draft.judge_score,
    )


def store_outcomes(
    run_id: int,
    lease_token: str,
    drafts: list[SampleDraft],
    skips: list[Skip],
    produced_keys: list[str],
    calls: list[CallRecord],
    filtered: Counter[str],
    state: dict[str, Any],
    active_seconds: float,
) -> CommitResult:
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.lease_token != lease_token:
            raise LeaseLost(run_id)
        filtered = Counter(filtered)
        keep = _new_drafts(run, drafts, filtered)
        room = max(0, run.target_count - run.produced)
        keep = keep[:room]
        # Items whose samples were all cut by the target did work that is discarded: say so.
        kept_keys = [d.work_key for d, _ in keep]
        over = [
            k for k in produced_keys if not any(w == k or w.startswith(k + ":") for w in kept_keys)
        ]
        if over:
            produced_keys = [k for k in produced_keys if k not in set(over)]
            skips = [*skips, *(Skip(k, RunItem.Outcome.FILTERED, "over_target") for k in over)]
        try:
            with transaction.atomic():
                stored = _insert(run, keep)
        except IntegrityError:
            # Another run of the project stored the same content a moment ago.
            stored = _insert_one_by_one(run, keep, filtered)
        RunItem.objects.bulk_create(
            [
                RunItem(
                    run=run,
                    work_key=s.work_key,
                    outcome=s.outcome,
                    reason=s.reason,
                    detail=s.detail[:100_000],
                )
                for s in skips
            ]
            + [
                RunItem(run=run, work_key=k, outcome=RunItem.Outcome.PRODUCED)
                for k in produced_keys
            ],
            ignore_conflicts=True,
        )
        for s in skips:
            if s.outcome == RunItem.Outcome.FILTERED:
                filtered[s.reason] += 1
        LLMCall.objects.bulk_create(
            [LLMCall.from_record(run.project_id, c, run_id=run.pk) for c in calls]
        )
        merged = Counter(run.filtered)
        merged.update(filtered)
        run.filtered = dict(merged)
        run.produced += stored
        run.failed += sum(1 for s in skips if s.outcome == RunItem.Outcome.FAILED)
        run.tokens_in += sum(c.tokens_in for c in calls)
        run.tokens_out += sum(c.tokens_out for c in calls)
        run.cost += sum((c.cost for c in calls), Decimal(0))
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
        )


def budget_exhausted(run: Run) -> bool:
    if run.budget_tokens is not None and run.tokens_in + run.tokens_out >= run.budget_tokens:
        return True
    return run.budget_cost is not None and run.cost >= run.budget_cost


Fresh = list[tuple[SampleDraft, str]]  # a draft and its content hash


def _new_drafts(run: Run, drafts: list[SampleDraft], filtered: Counter[str]) -> Fresh:
    """Drop drafts already stored (same work key) and exact duplicates of project content."""
    if not drafts:
        return []
    keys = [d.work_key for d in drafts]
    done = set(Sample.objects.filter(run=run, work_key__in=keys).values_list("work_key", flat=True))
    hashes = {id(d): content_hash(d) for d in drafts}
    existing = set(
        Sample.objects.filter(
            project_id=run.project_id, content_hash__in=list(hashes.values())
        ).values_list("content_hash", flat=True)
    )
    keep: Fresh = []
    seen_keys: set[str] = set()
    for d in drafts:
        digest = hashes[id(d)]
        if d.work_key in done or d.work_key in seen_keys:
            continue
        if digest in existing:
            filtered["exact_duplicate"] += 1
            continue
        existing.add(digest)
        seen_keys.add(d.work_key)
        keep.append((d, digest))
    return keep


def _insert(run: Run, fresh: Fresh) -> int:
    samples = Sample.objects.bulk_create(
        [_sample(run, run.recipe_version, d, digest) for d, digest in fresh]
    )
    _judgements(samples, [d for d, _ in fresh])
    return len(samples)


def _insert_one_by_one(run: Run, fresh: Fresh, filtered: Counter[str]) -> int:
    stored = 0
    for d, digest in fresh:
        try:
            with transaction.atomic():
                sample = _sample(run, run.recipe_version, d, digest)
                sample.save()
                _judgements([sample], [d])
                stored += 1
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
