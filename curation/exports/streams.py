"""Where rows come from: server-side cursors over the samples, in id order, in chunks.

JSON columns are read as text and parsed here (Django's JSONField converter would parse
the whole `extra` blob; we ask Postgres for the few keys a format reads). Each stream yields
`Out` (a row with the sample ids behind it and its source) or a skip reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from curation.exports import encodings, formats, system_prompts, weights
from curation.exports.filters import NON_CANONICAL, ExportFilters, base_queryset
from curation.exports.formats import Row, Src
from curation.exports.pairs import edit_pair, preference_pairs, split_answer
from curation.projects.models import Project
from curation.review.models import QueueItem, Review, SampleRevision
from curation.samples.models import Sample, SampleKind, SampleStatus

CHUNK = 5000
CONVERSATION_KINDS = (SampleKind.SFT, SampleKind.CONVERSATION, SampleKind.TOOL_TRAJECTORY)
S = Sample._meta.db_table
# The raw SQL below is built from table names in _meta and fixed key names only; every
# value from a request is a bound parameter (hence the S608/S611 exemptions).
EXTRA_KEYS = {
    "alpaca": ("instruction", "input"),
    "dpo": ("source", "chosen_score", "rejected_score", "p_chosen", "candidates"),
    "kto": ("source", "kto_label", "candidates"),
    "bfcl": ("bfcl",),
    "step_labels": ("steps", "env", "trajectory_id", "step_labels"),
}
EXTRA_KEYS["dpo_conversational"] = EXTRA_KEYS["dpo"]


@dataclass(slots=True)
class Out:
    row: Row
    sample_ids: tuple[int, ...]
    source: str


Item = Out | str


def _loads(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None


def _src_rows(
    qs: QuerySet[Sample],
    fmt: str,
    *more: Any,
    keys: tuple[str, ...] | None = None,
    system_prompt: str = "stored",
    order: tuple[str, ...] = ("id",),
) -> Iterator[tuple[Src, list[Any]]]:
    """Src per sample plus any extra annotated columns (`more0`, `more1`, ...), streamed in
    id order (or `order`); its system messages as the `system_prompt` option writes them
    (system_prompts.py)."""
    keys = EXTRA_KEYS.get(fmt, ()) if keys is None else keys
    if system_prompt == "teacher":
        keys = (*keys, system_prompts.ERASED)
    pairs = ", ".join(f"'{k}', {S}.extra -> '{k}'" for k in keys)
    sql = f"jsonb_strip_nulls(jsonb_build_object({pairs}))::text"
    extra = RawSQL(sql, []) if keys else None  # noqa: S611
    annotations: dict[str, Any] = {
        "m": Cast("messages", TextField()),
        "t": Cast("tools", TextField()),
        "c": Cast("chosen", TextField()),
        "r": Cast("rejected", TextField()),
    }
    if extra is not None:
        annotations["x"] = extra
    for i, expr in enumerate(more):
        annotations[f"more{i}"] = expr
    fields = ["id", "kind", "m", "t", "c", "r", "label", "status", "source"]
    fields += list(annotations)[4:]
    rows = qs.annotate(**annotations).order_by(*order).values_list(*fields)
    for row in rows.iterator(chunk_size=CHUNK):
        src = Src(
            id=row[0],
            kind=row[1],
            messages=orjson.loads(row[2]),
            tools=_loads(row[3]),
            chosen=_loads(row[4]),
            rejected=_loads(row[5]),
            label=row[6],
            status=row[7],
            origin=row[8],
            extra=orjson.loads(row[9]) if extra is not None else {},
        )
        yield system_prompts.apply_src(src, system_prompt), list(row[9 + (extra is not None) :])


def _as_written(messages: Any, src: Src, mode: str) -> Any:
    """Other messages of a sample (an edit's original) with the sample's system prompt."""
    return system_prompts.apply(messages, mode, system_prompts.teacher_prompt(src.extra))


def _rankings() -> RawSQL:
    r, qi = Review._meta.db_table, QueueItem._meta.db_table
    return RawSQL(  # noqa: S611
        f"(SELECT jsonb_agg(r.ranking ORDER BY r.id)::text FROM {r} r "  # noqa: S608
        f"JOIN {qi} qi ON qi.id = r.item_id WHERE qi.sample_id = {S}.id "
        "AND jsonb_typeof(r.ranking) = 'array')",
        [],
    )


def _original() -> RawSQL:
    rv = SampleRevision._meta.db_table
    return RawSQL(  # noqa: S611
        f"(SELECT rv.messages_before::text FROM {rv} rv WHERE rv.sample_id = {S}.id "  # noqa: S608
        "ORDER BY rv.number LIMIT 1)",
        [],
    )


def _edited(qs: QuerySet[Sample]) -> QuerySet[Sample]:
    return qs.filter(
        Exists(SampleRevision.objects.filter(sample=OuterRef("pk"))),
        kind__in=CONVERSATION_KINDS,
    )


def sft_stream(
    project: Project,
    f: ExportFilters,
    fmt: str,
    opts: dict[str, Any] | None = None,
    *,
    weighted: bool | None = None,
) -> Iterator[Item]:
    """`weighted`: whether rows get the `weight` column (weights.py); None finds out."""
    qs = base_queryset(project, f)
    if fmt == "classification":
        qs = qs.exclude(label="")
    build = formats.SFT_ROW[fmt]
    encode = (opts or {}).get("encoding", "none") == "self_instruct"
    if weighted is None:
        weighted = weights.needs_column(qs, fmt, opts)
    keys = ("instruction", "input") if encode else EXTRA_KEYS.get(fmt, ())
    keys += (weights.KEY,) if weighted else ()
    seed = int((opts or {}).get("encoding_seed", 0))
    mode = system_prompts.mode_of(opts)
    mask = weights.mask_of(opts) == "assistant"
    for src, _ in _src_rows(qs, fmt, keys=keys, system_prompt=mode):
        row = build(src)
        if encode and not isinstance(row, str):
            row = _encoded(fmt, row, src, seed)
        if mask and not isinstance(row, str):
            row = weights.masked(fmt, row)
        if weighted and not isinstance(row, str):
            weight = weights.weight_of(src.extra)
            row = weight if isinstance(weight, str) else weights.with_weight(row, weight)
        yield row if isinstance(row, str) else Out(row, (src.id,), src.origin)


def _encoded(fmt: str, row: dict[str, Any], src: Src, seed: int) -> dict[str, Any]:
    """Self-Instruct's fine-tuning encoding of a single-turn sample.

    The instruction and input come from the sample's extra while its user turn still reads
    as their join (an edit in review may have changed it); else the turn is the instruction.
    The output is the assistant turn as it is now.
    """
    turns = row["messages"] if fmt == "openai" else row["conversations"]
    text = [t.get("content", t.get("value")) for t in turns]
    roles = [t.get("role", t.get("from")) for t in turns]
    head = [t for t, r in zip(turns, roles, strict=True) if r == "system"]
    body = [(r, x) for r, x in zip(roles, text, strict=True) if r != "system"]
    if len(body) != 2 or not all(isinstance(x, str) for _, x in body):
        return row
    (_, user), (_, output) = body
    known, given = src.extra.get("instruction"), src.extra.get("input") or ""
    joined = f"{known}\n\n{given}" if given else known
    if not (isinstance(known, str) and isinstance(given, str) and user == joined):
        known, given = user, ""
    prompt, completion = encodings.self_instruct(
        str(known), str(given), str(output), seed=seed, sample_id=src.id
    )
    if fmt == "openai":
        pair = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
        return {**row, "messages": [*head, *pair]}
    pair = [{"from": "human", "value": prompt}, {"from": "gpt", "value": completion}]
    return {"conversations": [*head, *pair]}


def pair_stream(
    project: Project, f: ExportFilters, fmt: str, opts: dict[str, Any]
) -> Iterator[Item]:
    conversational = fmt == "dpo_conversational"
    scores, source = bool(opts.get("include_scores")), bool(opts.get("include_source", True))

    def out(pair: formats.Pair) -> Item:
        row = formats.dpo_row(pair, conversational=conversational, scores=scores, source=source)
        return row if isinstance(row, str) else Out(row, pair.sample_ids, pair.source)

    qs, mode = base_queryset(project, f), system_prompts.mode_of(opts)
    preferences = qs.filter(kind=SampleKind.PREFERENCE)
    for src, (rankings,) in _src_rows(preferences, fmt, _rankings(), system_prompt=mode):
        pairs, reason = preference_pairs(src, _loads(rankings) or [])
        yield from (out(p) for p in pairs) if pairs else (reason,)
    for src, (original,) in _src_rows(_edited(qs), fmt, _original(), system_prompt=mode):
        pair, reason = edit_pair(src, _as_written(orjson.loads(original), src, mode))
        yield out(pair) if pair else reason
    for pair in accepted_vs_rejected(project, f, mode):
        yield out(pair)


def accepted_vs_rejected(
    project: Project, f: ExportFilters, mode: str = "stored"
) -> Iterator[formats.Pair]:
    """Each accepted answer against each rejected answer to the same (stored) prompt; the
    prompt is the accepted sample's, with its system prompt as `mode` writes it."""
    if f.statuses and SampleStatus.ACCEPTED not in f.statuses:
        return
    candidates = base_queryset(project, f, statuses=False).values("id")
    inner, params = candidates.query.sql_with_params()
    sql = f"""
        WITH c AS (
            SELECT s.id, s.status, s.messages, s.extra ->> %s AS teacher,
                   md5((s.messages - -1)::text) AS prompt
            FROM {S} s
            WHERE s.id IN ({inner}) AND s.kind = ANY(%s) AND s.status = ANY(%s)
              AND s.messages -> -1 ->> 'role' = 'assistant'
              -- rejected as a duplicate says nothing about quality: never a "rejected" side
              AND NOT (s.status = 'rejected' AND s.dup_status = ANY(%s))
        )
        SELECT a.id, r.id, a.messages::text, r.messages::text, a.teacher
        FROM c a JOIN c r ON r.prompt = a.prompt AND r.status = %s
        WHERE a.status = %s
        ORDER BY a.id, r.id
    """  # noqa: S608
    kinds = [str(k) for k in CONVERSATION_KINDS]
    statuses = [SampleStatus.ACCEPTED.value, SampleStatus.REJECTED.value]
    with connection.chunked_cursor() as cur:
        dups = [str(d) for d in NON_CANONICAL]
        cur.execute(
            sql, [system_prompts.ERASED, *params, kinds, statuses, dups, "rejected", "accepted"]
        )
        while rows := cur.fetchmany(CHUNK):
            for good_id, bad_id, good, bad, teacher in rows:
                good_split, bad_split = (
                    split_answer(system_prompts.apply(orjson.loads(good), mode, teacher)),
                    split_answer(orjson.loads(bad)),
                )
                if good_split and bad_split and good_split[1] != bad_split[1]:
                    yield formats.Pair(
                        good_split[0],
                        good_split[1],
                        bad_split[1],
                        "human:accept_vs_reject",
                        (good_id, bad_id),
                    )


def kto_stream(project: Project, f: ExportFilters, opts: dict[str, Any]) -> Iterator[Item]:
    source = bool(opts.get("include_source", True))

    def out(prompt: Any, completion: Any, label: bool, src: str, ids: tuple[int, ...]) -> Out:
        return Out(formats.kto_row(prompt, completion, label, src, source=source), ids, src)

    qs = base_queryset(project, f)
    # A sample rejected as a duplicate is not a bad answer: it never becomes a `false` row.
    qs = qs.exclude(status=SampleStatus.REJECTED, dup_status__in=NON_CANONICAL)
    mode = system_prompts.mode_of(opts)
    for src, _ in _src_rows(qs.filter(kind__in=CONVERSATION_KINDS), "kto", system_prompt=mode):
        parts = split_answer(src.messages)
        label = _kto_label(src)
        if parts is None or label is None:
            yield "no_assistant_turn" if parts is None else "no_human_label"
            continue
        yield out(*parts, label, src.extra.get("source", "human:review"), (src.id,))
    preferences = qs.filter(kind=SampleKind.PREFERENCE)
    for src, (rankings,) in _src_rows(preferences, "kto", _rankings(), system_prompt=mode):
        pairs, reason = preference_pairs(src, _loads(rankings) or [])
        if not pairs:
            yield reason
        for good, bad in _kto_sides(pairs):
            yield out(src.messages, good, True, pairs[0].source, (src.id,))
            yield out(src.messages, bad, False, pairs[0].source, (src.id,))
    for src, (original,) in _src_rows(_edited(qs), "kto", _original(), system_prompt=mode):
        pair, reason = edit_pair(src, _as_written(orjson.loads(original), src, mode))
        yield out(pair.prompt, pair.rejected, False, "human:edit", (src.id,)) if pair else reason


def _kto_label(src: Src) -> bool | None:
    if src.status in (SampleStatus.ACCEPTED, SampleStatus.REJECTED):
        return src.status == SampleStatus.ACCEPTED
    label = src.extra.get("kto_label")  # an imported dataset's own label
    return label if isinstance(label, bool) else None


def _kto_sides(pairs: list[formats.Pair]) -> list[tuple[Any, Any]]:
    """Best against worst of a sample's pairs: unpaired rows need each answer once."""
    wins = [p.chosen for p in pairs]
    losses = [p.rejected for p in pairs]
    best = next((w for w in wins if w not in losses), None)
    worst = next((b for b in losses if b not in wins), None)
    return [(best, worst)] if best is not None and worst is not None else []


def stream(
    project: Project,
    f: ExportFilters,
    fmt: str,
    opts: dict[str, Any],
    *,
    weighted: bool | None = None,
) -> Iterator[Item]:
    if fmt in formats.PAIR_FORMATS:
        return pair_stream(project, f, fmt, opts)
    if fmt == "kto":
        return kto_stream(project, f, opts)
    if fmt in formats.TRAJECTORY_FORMATS:
        from curation.exports import trajectory_streams

        return trajectory_streams.stream(project, f, fmt, opts)
    return sft_stream(project, f, fmt, opts, weighted=weighted)


def estimate(project: Project, f: ExportFilters, fmt: str) -> int:
    """Rows to expect, for the progress bar and the form's live count (exact for SFT)."""
    qs = base_queryset(project, f)
    if fmt == "classification":
        qs = qs.exclude(label="")
    if fmt in formats.TRAJECTORY_FORMATS:  # only trajectories (and pairs of them) count
        from curation.exports.trajectory_streams import TRAJECTORIES

        qs = qs.filter(TRAJECTORIES | Q(kind=SampleKind.PREFERENCE, tools__isnull=False))
    return qs.count()
