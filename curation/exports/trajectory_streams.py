"""Where trajectory rows come from: step labels per trajectory, and pairs within a task.

Server-side cursors as in streams.py. The people's first wrong steps come with each sample
(one subquery); pairs read the trajectories ordered by their task key, so only one task's
trajectories are held at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import Any

from django.db.models import BooleanField, F, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL

from curation.exports import formats, system_prompts
from curation.exports.filters import NON_CANONICAL, ExportFilters, base_queryset
from curation.exports.formats import Src
from curation.exports.pairs import preference_pairs
from curation.exports.streams import Item, Out, S, _loads, _rankings, _src_rows
from curation.exports.trajectories import outcome, step_labels_row, trajectory_pair, verdict
from curation.projects.models import Project
from curation.review.models import QueueItem, Review
from curation.samples.models import Sample, SampleKind, SampleStatus

# The raw SQL here is built from table names in _meta and fixed key names only.
TRAJECTORIES = Q(kind=SampleKind.TOOL_TRAJECTORY) | Q(extra__has_key="steps")
PAIR_KEYS = ("env", "trajectory_id", system_prompts.ERASED)


def _trajectories(qs: QuerySet[Sample]) -> QuerySet[Sample]:
    # A sample rejected as a duplicate says nothing about its steps or its outcome.
    return qs.filter(TRAJECTORIES).exclude(
        status=SampleStatus.REJECTED, dup_status__in=NON_CANONICAL
    )


def _marks() -> RawSQL:
    """Per sample, [first_wrong_step, decision] of each of its reviews, oldest first."""
    r, qi = Review._meta.db_table, QueueItem._meta.db_table
    return RawSQL(  # noqa: S611
        f"(SELECT jsonb_agg(jsonb_build_array(r.first_wrong_step, r.decision) ORDER BY r.id)"  # noqa: S608
        f"::text FROM {r} r JOIN {qi} qi ON qi.id = r.item_id WHERE qi.sample_id = {S}.id)",
        [],
    )


def step_label_stream(project: Project, f: ExportFilters, opts: dict[str, Any]) -> Iterator[Item]:
    qs = _trajectories(base_queryset(project, f))
    mode = system_prompts.mode_of(opts)
    for src, (marks,) in _src_rows(qs, "step_labels", _marks(), system_prompt=mode):
        row = step_labels_row(src, _loads(marks) or [])
        yield row if isinstance(row, str) else Out(row, (src.id,), str(row["label_source"]))


def _task_key() -> RawSQL:
    """One task's trajectories share it: the trajectory id, else the env task, else the
    seeds; NULL when a sample has none of them."""
    return RawSQL(  # noqa: S611
        f"COALESCE('id:' || ({S}.extra ->> 'trajectory_id'), "
        f"'task:' || md5(({S}.extra -> 'env' -> 'task')::text), "
        f"CASE WHEN cardinality({S}.seed_ids) > 0 "
        f"THEN 'seeds:' || array_to_string({S}.seed_ids, ',') END)",
        [],
        output_field=TextField(),
    )


def trajectory_pair_stream(
    project: Project, f: ExportFilters, opts: dict[str, Any]
) -> Iterator[Item]:
    scores, source = bool(opts.get("include_scores")), bool(opts.get("include_source", True))
    mode = system_prompts.mode_of(opts)

    def out(pair: formats.Pair) -> Item:
        row = formats.dpo_row(pair, conversational=True, scores=scores, source=source)
        return row if isinstance(row, str) else Out(row, pair.sample_ids, pair.source)

    # Preference samples whose sides are trajectories (a recipe's own pairs, or imported).
    calls = RawSQL(  # noqa: S611
        f"(jsonb_path_exists(COALESCE({S}.chosen, '[]'), '$[*].tool_calls') OR "
        f"jsonb_path_exists(COALESCE({S}.rejected, '[]'), '$[*].tool_calls'))",
        [],
        output_field=BooleanField(),
    )
    preferences = (
        base_queryset(project, f)
        .filter(kind=SampleKind.PREFERENCE)
        .annotate(calls=calls)
        .filter(Q(tools__isnull=False) | Q(calls=True))
    )
    for src, (rankings,) in _src_rows(preferences, "dpo", _rankings(), system_prompt=mode):
        pairs, reason = preference_pairs(src, _loads(rankings) or [])
        yield from (out(p) for p in pairs) if pairs else (reason,)
    wanted = {str(s) for s in f.statuses}
    qs = _trajectories(base_queryset(project, f, statuses=False))
    rows = _src_rows(
        qs, "trajectory_pairs", F("auto_accepted"), _task_key(),
        keys=PAIR_KEYS, system_prompt=mode, order=("more1", "id"),
    )  # fmt: skip
    for key, group in groupby(rows, key=lambda r: r[1][1]):
        members = list(group)
        if key is None:
            yield from ("no_task_key" for _ in members)
            continue
        yield from _pairs_of([(src, bool(auto)) for src, (auto, _) in members], wanted, out)


def _pairs_of(members: list[tuple[Src, bool]], wanted: set[str], out: Any) -> Iterator[Item]:
    """Each succeeded trajectory the filters select against each failed one of the task."""
    known = [(src, outcome(src.status, auto, src.extra)) for src, auto in members]
    good = [(s, o[1]) for s, o in known if o and o[0] and (not wanted or s.status in wanted)]
    bad = [(s, o[1]) for s, o in known if o and not o[0]]
    if not good or not bad:
        yield from ("no_opposite_outcome" for _ in members)
        return
    for g, g_by in good:
        for b, b_by in bad:
            pair = trajectory_pair(
                g.messages,
                b.messages,
                (g_by, b_by),
                (g.id, b.id),
                (verdict(g.extra)[1], verdict(b.extra)[1]),
                g.tools,
            )
            yield out(pair) if isinstance(pair, formats.Pair) else pair


def stream(project: Project, f: ExportFilters, fmt: str, opts: dict[str, Any]) -> Iterator[Item]:
    if fmt == "step_labels":
        return step_label_stream(project, f, opts)
    return trajectory_pair_stream(project, f, opts)
