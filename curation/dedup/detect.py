"""Finding near-duplicates: HNSW neighbour queries -> stored edges -> union-find clusters.

Edges: for each queried sample, its k nearest neighbours (pgvector HNSW, cosine) among the
samples in scope, and among the project's seeds, kept when the cosine similarity reaches
the project's threshold; plus exact duplicates (same normalised-text hash). `hnsw.ef_search`
and iterative scans are set per query with SET LOCAL inside the query's transaction.

Clusters: connected components of the edges (union-find), minus edges between members of a
cluster a curator already decided. Canonical member, in order of preference: a seed (the
human-written original), a sample already exported (it has shipped), the highest judge
score, the earliest sample. Everything is deterministic, so a rescan over unchanged data
finds the same clusters and changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from curation.dedup.models import DupEdge, Scope
from curation.projects.models import Project
from curation.samples.models import Sample
from curation.seeds.models import Seed

QUERY_BATCH = 500
Key = str  # "x<sample id>" or "s<seed id>"


def exported_sample_ids(project_id: int) -> set[int]:
    """Samples of earlier exports, from the hook the exports app provides (a setting)."""
    path = getattr(settings, "SEEDBED_EXPORTED_SAMPLES", "")
    if not path:
        return set()
    return {int(i) for i in import_string(path)(project_id)}


def set_search(cursor: Any, ef_search: int | None = None) -> None:
    """Per-query HNSW settings; SET LOCAL lasts until the surrounding transaction ends."""
    ef = int(ef_search or settings.SEEDBED_DEDUP_EF_SEARCH)
    cursor.execute(f"SET LOCAL hnsw.ef_search = {ef}")
    # Filtered queries (one project of many) keep scanning until they have k rows.
    cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")


@dataclass(frozen=True)
class Edge:
    a: int
    b: int | None
    seed: int | None
    similarity: float
    exact: bool = False


def _sample_sql(scopes: set[str]) -> str | None:
    table = Sample._meta.db_table
    if Scope.PROJECT in scopes:
        extra = ""
    else:
        parts = []
        if Scope.RUN in scopes:
            parts.append("s.run_id = q.run_id")
        if Scope.EXPORTS in scopes:
            parts.append("s.id = ANY(%(exported)s)")
        if not parts:
            return None
        extra = " AND (" + " OR ".join(parts) + ")"
    return f"""
        SELECT q.id, n.id, 1 - (q.embedding <=> n.embedding) AS sim
        FROM {table} q
        CROSS JOIN LATERAL (
            SELECT s.id, s.embedding FROM {table} s
            WHERE s.project_id = %(project)s AND s.embedding IS NOT NULL
              AND s.id <> q.id{extra}
            ORDER BY s.embedding <=> q.embedding
            LIMIT %(k)s
        ) n
        WHERE q.id = ANY(%(ids)s) AND q.embedding IS NOT NULL
          AND 1 - (q.embedding <=> n.embedding) >= %(threshold)s
    """  # noqa: S608 - table names from _meta, fixed clauses; values are parameters


def _seed_sql() -> str:
    samples, seeds = Sample._meta.db_table, Seed._meta.db_table
    seed_sets = Seed._meta.get_field("seed_set").related_model._meta.db_table
    return f"""
        SELECT q.id, n.id, 1 - (q.embedding <=> n.embedding) AS sim
        FROM {samples} q
        CROSS JOIN LATERAL (
            SELECT se.id, se.embedding FROM {seeds} se
            JOIN {seed_sets} ss ON ss.id = se.seed_set_id
            WHERE ss.project_id = %(project)s AND se.embedding IS NOT NULL
            ORDER BY se.embedding <=> q.embedding
            LIMIT %(k)s
        ) n
        WHERE q.id = ANY(%(ids)s) AND q.embedding IS NOT NULL
          AND 1 - (q.embedding <=> n.embedding) >= %(threshold)s
    """  # noqa: S608 - table names from _meta, fixed clauses; values are parameters


def find_edges(
    project: Project, ids: list[int], scopes: Iterable[str], threshold: float, k: int | None = None
) -> list[Edge]:
    scopes = set(scopes)
    k = int(k or settings.SEEDBED_DEDUP_NEIGHBOURS)
    exported = sorted(exported_sample_ids(project.pk)) if Scope.EXPORTS in scopes else []
    found: dict[tuple[int, int | None, int | None], Edge] = {}
    sample_sql = _sample_sql(scopes)
    for start in range(0, len(ids), QUERY_BATCH):
        params: dict[str, Any] = {
            "project": project.pk,
            "ids": ids[start : start + QUERY_BATCH],
            "k": k,
            "threshold": threshold,
            "exported": exported,
        }
        with transaction.atomic(), connection.cursor() as cur:
            set_search(cur)
            if sample_sql:
                cur.execute(sample_sql, params)
                for q, n, sim in cur.fetchall():
                    a, b = min(q, n), max(q, n)
                    found[(a, b, None)] = Edge(a, b, None, min(1.0, float(sim)))
            if Scope.SEEDS in scopes:
                cur.execute(_seed_sql(), params)
                for q, n, sim in cur.fetchall():
                    found[(q, None, n)] = Edge(q, None, n, min(1.0, float(sim)))
    for edge in _exact_edges(project, ids, scopes, exported):
        found[(edge.a, edge.b, None)] = edge
    return list(found.values())


def _exact_edges(
    project: Project, ids: list[int], scopes: set[str], exported: list[int]
) -> list[Edge]:
    """Same normalised text: an edge of similarity 1 to the earliest sample with that text."""
    mine = list(
        Sample.objects.filter(pk__in=ids).exclude(text_hash="").values_list("id", "text_hash")
    )
    if not mine:
        return []
    others = Sample.objects.filter(project=project, text_hash__in={h for _, h in mine}).values_list(
        "id", "run_id", "text_hash"
    )
    by_hash: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    for pk, run_id, digest in others:
        by_hash[digest].append((pk, run_id))
    runs = dict(Sample.objects.filter(pk__in=ids).values_list("id", "run_id"))
    edges = []
    allowed_exports = set(exported)
    for pk, digest in mine:
        for other, run_id in by_hash[digest]:
            if other == pk:
                continue
            in_scope = (
                Scope.PROJECT in scopes
                or (Scope.RUN in scopes and run_id == runs.get(pk))
                or (Scope.EXPORTS in scopes and other in allowed_exports)
            )
            if in_scope:
                edges.append(Edge(min(pk, other), max(pk, other), None, 1.0, exact=True))
    return edges


def refresh_edges(project: Project, ids: list[int] | None = None) -> dict[str, int]:
    """Recompute the stored edges of `ids` (None: every embedded sample of the project).

    Writes only the difference, so recomputing unchanged data leaves the table as it was.
    """
    stored = DupEdge.objects.filter(project=project)
    if ids is None:
        ids = list(
            Sample.objects.filter(project=project, embedding__isnull=False)
            .order_by("id")
            .values_list("id", flat=True)
        )
    else:
        stored = stored.filter(Q(a_id__in=ids) | Q(b_id__in=ids))
    edges = find_edges(project, ids, project.dedup_scopes, project.dedup_threshold)
    wanted = {(e.a, e.b, e.seed): e for e in edges}
    have = {
        (a, b, seed): (pk, sim, exact)
        for pk, a, b, seed, sim, exact in stored.values_list(
            "id", "a_id", "b_id", "seed_id", "similarity", "exact"
        )
    }
    drop = [
        pk
        for key, (pk, sim, exact) in have.items()
        if key not in wanted
        or abs(wanted[key].similarity - sim) > 1e-6
        or wanted[key].exact != exact
    ]
    keep = {key for key, (pk, _, _) in have.items() if pk not in set(drop)}
    add = [e for key, e in wanted.items() if key not in keep]
    with transaction.atomic():
        DupEdge.objects.filter(pk__in=drop).delete()
        DupEdge.objects.bulk_create(
            [
                DupEdge(
                    project=project,
                    a_id=e.a,
                    b_id=e.b,
                    seed_id=e.seed,
                    similarity=e.similarity,
                    exact=e.exact,
                )
                for e in add
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
    return {"edges": len(wanted), "edges_added": len(add), "edges_removed": len(drop)}


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, x: Key) -> Key:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: Key, b: Key) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[Key]]:
        out: dict[Key, list[Key]] = defaultdict(list)
        for x in self.parent:
            out[self.find(x)].append(x)
        return [sorted(g) for g in out.values() if len(g) > 1]
