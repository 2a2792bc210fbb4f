"""Clusters as plain dicts, for the API and the pages alike (members loaded in bulk)."""

from __future__ import annotations

from typing import Any

from curation.dedup.clusters import canonical_key
from curation.dedup.models import DupCluster, DupMember
from generation.embeddings import messages_text

PREVIEW = 2000


def member_dict(m: DupMember, canonical: str) -> dict[str, Any]:
    if m.sample is not None:
        text, status = messages_text(m.sample.messages), m.sample.status
    else:
        assert m.seed is not None
        text, status = m.seed.text, "seed"
    return {
        "key": m.key,
        "sample_id": m.sample_id,
        "seed_id": m.seed_id,
        "similarity": m.similarity,
        "canonical": m.key == canonical,
        "exported": m.exported,
        "text": text[:PREVIEW],
        "status": status,
    }


def cluster_dicts(clusters: list[DupCluster]) -> list[dict[str, Any]]:
    members: dict[int, list[DupMember]] = {c.pk: [] for c in clusters}
    for m in (
        DupMember.objects.filter(cluster__in=clusters)
        .select_related("sample", "seed")
        .order_by("-similarity", "id")
    ):
        members[m.cluster_id].append(m)
    out = []
    for c in clusters:
        canonical = canonical_key(c)
        ordered = sorted(members[c.pk], key=lambda m: (m.key != canonical, -m.similarity))
        out.append(
            {
                "id": c.pk,
                "status": c.status,
                "size": c.size,
                "max_similarity": c.max_similarity,
                "threshold": c.threshold,
                "canonical": canonical,
                "members": [member_dict(m, canonical) for m in ordered],
                "decided_by": c.decided_by.username if c.decided_by else None,
                "decided_at": c.decided_at,
            }
        )
    return out
