"""Stored clusters from stored edges, and each sample's dup status from its cluster.

`rebuild_clusters` is the one writer of open clusters and of detected dup statuses. It only
writes what differs from what is stored, so running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import numpy as np
from django.db import connection, transaction

from curation.dedup.detect import UnionFind, exported_sample_ids
from curation.dedup.models import ClusterStatus, DupCluster, DupEdge, DupMember
from curation.projects.models import Project
from curation.samples.models import DupStatus, Sample
from curation.seeds.models import Seed

LOCK_NAMESPACE = 0x5EEDDED  # pg_advisory_xact_lock(namespace, project id)


def _decided_groups(project: Project) -> dict[str, set[int]]:
    """Member key -> ids of the decided clusters it belongs to."""
    out: dict[str, set[int]] = defaultdict(set)
    for cluster_id, sample_id, seed_id in DupMember.objects.filter(
        cluster__project=project,
        cluster__status__in=[ClusterStatus.RESOLVED, ClusterStatus.DISMISSED],
    ).values_list("cluster_id", "sample_id", "seed_id"):
        out[f"x{sample_id}" if sample_id else f"s{seed_id}"].add(cluster_id)
    return out


def _canonical_order(
    keys: list[str], info: dict[int, dict[str, Any]], exported: set[int]
) -> list[str]:
    def rank(key: str) -> tuple[int, int, float, int]:
        pk = int(key[1:])
        if key[0] == "s":
            return (0, 0, 0.0, pk)
        score = info[pk]["judge_score"]
        return (1, 0 if pk in exported else 1, -(score if score is not None else -1e9), pk)

    return sorted(keys, key=rank)


def _vectors(keys: set[str]) -> dict[str, np.ndarray]:
    samples = [int(k[1:]) for k in keys if k[0] == "x"]
    seeds = [int(k[1:]) for k in keys if k[0] == "s"]
    out: dict[str, np.ndarray] = {}
    for pk, vec in Sample.objects.filter(pk__in=samples).values_list("id", "embedding"):
        if vec is not None:
            out[f"x{pk}"] = np.asarray(vec, dtype=np.float32)
    for pk, vec in Seed.objects.filter(pk__in=seeds).values_list("id", "embedding"):
        if vec is not None:
            out[f"s{pk}"] = np.asarray(vec, dtype=np.float32)
    return out


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    denom = float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0
    return round(float(a @ b) / denom, 6)


def signature(keys: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(keys)).encode()).hexdigest()


def canonical_key(cluster: DupCluster) -> str:
    return (
        f"x{cluster.canonical_sample_id}"
        if cluster.canonical_sample_id
        else f"s{cluster.canonical_seed_id}"
    )


def rebuild_clusters(project: Project) -> dict[str, int]:
    """Open clusters and detected dup statuses, from the edges above the threshold."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, project.pk])
        decided = _decided_groups(project)
        uf = UnionFind()
        for a, b, seed in DupEdge.objects.filter(
            project=project, similarity__gte=project.dedup_threshold
        ).values_list("a_id", "b_id", "seed_id"):
            u, v = f"x{a}", (f"x{b}" if b else f"s{seed}")
            if decided.get(u, set()) & decided.get(v, set()):
                continue  # a curator already judged this pair
            uf.union(u, v)
        groups = uf.groups()
        sample_ids = {int(k[1:]) for g in groups for k in g if k[0] == "x"}
        info: dict[int, dict[str, Any]] = {
            row["id"]: dict(row)
            for row in Sample.objects.filter(pk__in=sample_ids).values(
                "id", "judge_score", "text_hash"
            )
        }
        exported = exported_sample_ids(project.pk)
        existing = {c.signature: c for c in DupCluster.objects.open().filter(project=project)}
        wanted: dict[str, tuple[list[str], str]] = {}
        for group in groups:
            sig = signature(group)
            # A cluster found again keeps its canonical: a curator may have chosen it.
            kept = existing.get(sig)
            canonical = canonical_key(kept) if kept else _canonical_order(group, info, exported)[0]
            wanted[sig] = (group, canonical)
        removed = [c.pk for sig, c in existing.items() if sig not in wanted]
        # Only clusters still open: one a curator decided meanwhile keeps its decision.
        DupCluster.objects.open().filter(pk__in=removed).delete()
        new = {sig: v for sig, v in wanted.items() if sig not in existing}
        vectors = _vectors({k for group, _ in new.values() for k in group})
        for sig, (group, canonical) in sorted(new.items(), key=lambda kv: kv[1][1]):
            _create_cluster(project, sig, group, canonical, vectors, exported)
        changed = _apply_statuses(project, wanted, info)
    return {
        "clusters": len(wanted),
        "created": len(new),
        "removed": len(removed),
        "samples_changed": changed,
    }


def _create_cluster(
    project: Project,
    sig: str,
    group: list[str],
    canonical: str,
    vectors: dict[str, np.ndarray],
    exported: set[int],
) -> DupCluster:
    sims = {
        k: (1.0 if k == canonical else _cosine(vectors.get(k), vectors.get(canonical)))
        for k in group
    }
    cluster = DupCluster.objects.create(
        project=project,
        signature=sig,
        canonical_sample_id=int(canonical[1:]) if canonical[0] == "x" else None,
        canonical_seed_id=int(canonical[1:]) if canonical[0] == "s" else None,
        size=len(group),
        max_similarity=max(v for k, v in sims.items() if k != canonical),
        threshold=project.dedup_threshold,
    )
    DupMember.objects.bulk_create(
        [
            DupMember(
                cluster=cluster,
                sample_id=int(k[1:]) if k[0] == "x" else None,
                seed_id=int(k[1:]) if k[0] == "s" else None,
                similarity=sims[k],
                exported=k[0] == "x" and int(k[1:]) in exported,
            )
            for k in group
        ]
    )
    return cluster


Target = tuple[str, Any, Any]  # dup_status, duplicate_of, duplicate_of_seed


def _apply_statuses(
    project: Project, wanted: dict[str, tuple[list[str], str]], info: dict[int, dict[str, Any]]
) -> int:
    targets: dict[int, Target] = {}
    for group, canonical in wanted.values():
        canon_hash = info[int(canonical[1:])]["text_hash"] if canonical[0] == "x" else None
        for key in group:
            if key == canonical or key[0] != "x":
                continue
            pk = int(key[1:])
            exact = canon_hash is not None and info[pk]["text_hash"] == canon_hash
            status: str = DupStatus.EXACT_DUPLICATE if exact else DupStatus.NEAR_DUPLICATE
            targets[pk] = (
                status,
                int(canonical[1:]) if canonical[0] == "x" else None,
                int(canonical[1:]) if canonical[0] == "s" else None,
            )
    # Samples a curator rejected as duplicates keep what the decision set.
    frozen = set(
        DupMember.objects.filter(
            cluster__project=project, cluster__status=ClusterStatus.RESOLVED, before__isnull=False
        ).values_list("sample_id", flat=True)
    )
    updates: dict[Target, list[int]] = defaultdict(list)
    for pk, current, dup_of, dup_seed in Sample.objects.filter(
        project=project, embedding__isnull=False
    ).values_list("id", "dup_status", "duplicate_of_id", "duplicate_of_seed_id"):
        if pk in frozen:
            continue
        target = targets.get(pk, (DupStatus.UNIQUE, None, None))
        if (current, dup_of, dup_seed) != target:
            updates[target].append(pk)
    for (wanted_status, dup_of_id, dup_seed_id), ids in updates.items():
        Sample.objects.filter(pk__in=ids).update(
            dup_status=wanted_status, duplicate_of_id=dup_of_id, duplicate_of_seed_id=dup_seed_id
        )
    return sum(len(ids) for ids in updates.values())
