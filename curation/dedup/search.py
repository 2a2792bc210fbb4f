"""Reading vectors: "find similar" for a sample, and semantic search over samples and seeds.

Each query runs in its own transaction so that SET LOCAL hnsw.ef_search applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from pgvector.django import CosineDistance

from curation.dedup.detect import set_search
from curation.dedup.embed import embed_samples, embedder_for
from curation.projects.models import Project
from curation.samples.models import Sample
from curation.seeds.models import Seed

MAX_K = 100


@dataclass(frozen=True)
class Hit:
    kind: str  # "sample" | "seed"
    id: int
    similarity: float
    text: str
    obj: Any


def _nearest(qs: Any, vector: Any, k: int) -> list[tuple[Any, float]]:
    with transaction.atomic(), connection.cursor() as cur:
        set_search(cur, max(k, 40))
        rows = list(
            qs.filter(embedding__isnull=False)
            .annotate(distance=CosineDistance("embedding", vector))
            .order_by("distance")[:k]
        )
    return [(r, round(1.0 - float(r.distance), 4)) for r in rows]


def similar_samples(sample: Sample, k: int = 10) -> list[tuple[Sample, float]]:
    """The k samples of the sample's project nearest to it (it is embedded first if need be)."""
    k = max(1, min(k, MAX_K))
    if sample.embedding is None or not sample.embedded_hash:
        embed_samples(sample.project_id, [sample.pk])
        sample.refresh_from_db(fields=["embedding", "embedded_hash"])
    if sample.embedding is None:
        return []
    qs = Sample.objects.filter(project_id=sample.project_id).exclude(pk=sample.pk)
    return _nearest(qs.select_related("run"), sample.embedding, k)


def search(project: Project, query: str, k: int = 20) -> list[Hit]:
    """Samples and seeds of the project nearest in meaning to `query`, best first."""
    k = max(1, min(k, MAX_K))
    query = query.strip()[:2000]
    if not query:
        return []
    vector = np.asarray(embedder_for(project).encode([query])[0])
    hits = [
        Hit("sample", s.pk, sim, _first_text(s.messages), s)
        for s, sim in _nearest(Sample.objects.filter(project=project), vector, k)
    ]
    hits += [
        Hit("seed", s.pk, sim, s.text, s)
        for s, sim in _nearest(Seed.objects.filter(seed_set__project=project), vector, k)
    ]
    return sorted(hits, key=lambda h: -h.similarity)[:k]


def _first_text(messages: Any) -> str:
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        content = messages[0].get("content")
        return content if isinstance(content, str) else ""
    return ""
