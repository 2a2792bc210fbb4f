"""Embedding samples and seeds in batches: only what is missing, stale or edited.

A row needs embedding when it has no vector, when it was embedded by another model, or
when its text no longer hashes to `embedded_hash` (an edit). The text hash is recomputed
from the row itself, so a rescan catches edits made by any code path. The model runs
outside any transaction; each batch is written in its own short one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from curation.projects.models import LLMCall, ModelEndpoint, Project
from curation.samples.models import Sample
from curation.seeds.models import Seed
from generation.embeddings import (
    Embedder,
    EmbeddingDimensionError,
    EndpointEmbedder,
    local,
    sample_text,
    text_hash,
)
from generation.llm import LLMError

CHUNK = 256
Progress = Callable[[int], None]


class EmbeddingUnavailable(RuntimeError):
    """No way to embed for this project (e.g. the endpoint backend without a model)."""


# What a page or endpoint that embeds on demand turns into a clear message (API: 503): no
# embedder, a model of the wrong dimension, or the embedding endpoint failing.
EMBEDDING_ERRORS = (EmbeddingUnavailable, EmbeddingDimensionError, LLMError)


def embedder_for(project: Project | int) -> Embedder:
    backend = getattr(settings, "SEEDBED_EMBEDDING_BACKEND", "local")
    if backend == "local":
        return local()
    if backend != "endpoint":
        raise EmbeddingUnavailable(f"Unknown SEEDBED_EMBEDDING_BACKEND {backend!r}.")
    from curation.projects.services import endpoint_config

    project_id = project if isinstance(project, int) else project.pk
    endpoint = (
        ModelEndpoint.objects.filter(project_id=project_id)
        .exclude(embedding_model="")
        .order_by("-is_default", "id")
        .first()
    )
    if endpoint is None:
        raise EmbeddingUnavailable(
            "No endpoint of this project has an embedding model; set one on the Endpoints page."
        )
    return EndpointEmbedder(
        endpoint_config(endpoint), endpoint.embedding_model, settings.SEEDBED_EMBEDDING_DIM
    )


def _store_calls(project_id: int, embedder: Embedder) -> None:
    """Endpoint embedding calls become LLMCall rows, like every other call to a model."""
    records = getattr(embedder, "records", None)
    if not records:
        return
    LLMCall.objects.bulk_create([LLMCall.from_record(project_id, r) for r in records])
    records.clear()


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_MISSING = ExpressionWrapper(Q(embedding__isnull=True), output_field=BooleanField())


def stale_samples(project_id: int, model: str, ids: list[int] | None = None) -> int:
    """How many samples an embed pass would (re)embed; for progress bars."""
    return sum(1 for _ in _sample_work(project_id, model, ids))


def _sample_work(
    project_id: int, model: str, ids: list[int] | None
) -> Iterator[tuple[Any, str, str]]:
    qs = Sample.objects.filter(project_id=project_id)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    rows = (
        qs.annotate(missing=_MISSING)
        .order_by("id")
        .values(
            "id",
            "messages",
            "chosen",
            "rejected",
            "label",
            "text_hash",
            "embedded_hash",
            "embedding_model",
            "missing",
        )
        .iterator(chunk_size=2000)
    )
    for row in rows:
        text = sample_text(row["messages"], row["chosen"], row["rejected"], row["label"])
        digest = text_hash(text)
        if not text.strip():
            # Nothing to embed: record it as done (no vector), or the sweep would come back
            # for it every time.
            done = (row["embedded_hash"], row["embedding_model"], row["text_hash"])
            if done != (digest, model, digest):
                yield row, "", digest
            continue
        if row["missing"] or row["embedded_hash"] != digest or row["embedding_model"] != model:
            yield row, text, digest
        elif row["text_hash"] != digest:
            yield row, "", digest  # hash only (rows from before this column existed)


def embed_samples(
    project_id: int,
    ids: list[int] | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> list[int]:
    """Embed the project's samples that need it; returns the ids whose vector changed."""
    embedder = embedder or embedder_for(project_id)
    changed: list[int] = []
    for batch in _chunks(
        (
            {"row": r, "text": t, "hash": h}
            for r, t, h in _sample_work(project_id, embedder.name, ids)
        ),
        CHUNK,
    ):
        todo = [b for b in batch if b["text"]]
        try:
            vectors = embedder.encode([b["text"] for b in todo]) if todo else None
        finally:
            _store_calls(project_id, embedder)
        updates: list[Sample] = []
        for i, b in enumerate(todo):
            assert vectors is not None
            updates.append(
                Sample(
                    pk=b["row"]["id"],
                    embedding=vectors[i],
                    embedding_model=embedder.name,
                    embedding_dim=embedder.dim,
                    embedded_hash=b["hash"],
                    text_hash=b["hash"],
                )
            )
        with transaction.atomic():
            if updates:
                Sample.objects.bulk_update(
                    updates,
                    ["embedding", "embedding_model", "embedding_dim", "embedded_hash", "text_hash"],
                )
            for b in batch:
                if not b["text"]:  # a text-less sample, or an old row that lacked its hash
                    Sample.objects.filter(pk=b["row"]["id"]).update(
                        text_hash=b["hash"],
                        embedded_hash=b["hash"],
                        embedding_model=embedder.name,
                    )
        changed += [u.pk for u in updates]
        if progress:
            progress(len(batch))
    return changed


def embed_seeds(project_id: int, embedder: Embedder | None = None) -> int:
    """Embed the project's seeds that need it (seeds are not edited in place; new text only)."""
    embedder = embedder or embedder_for(project_id)
    rows = (
        Seed.objects.filter(seed_set__project_id=project_id)
        .annotate(missing=_MISSING)
        .order_by("id")
        .values("id", "text", "embedded_hash", "embedding_model", "missing")
        .iterator(chunk_size=2000)
    )
    work = (
        (r["id"], r["text"], text_hash(r["text"]))
        for r in rows
        if r["missing"]
        or r["embedding_model"] != embedder.name
        or r["embedded_hash"] != text_hash(r["text"])
    )
    total = 0
    for batch in _chunks(({"id": i, "text": t, "hash": h} for i, t, h in work), CHUNK):
        try:
            vectors = embedder.encode([b["text"] for b in batch])
        finally:
            _store_calls(project_id, embedder)
        Seed.objects.bulk_update(
            [
                Seed(
                    pk=b["id"],
                    embedding=vectors[i],
                    embedding_model=embedder.name,
                    embedding_dim=embedder.dim,
                    embedded_hash=b["hash"],
                )
                for i, b in enumerate(batch)
            ],
            ["embedding", "embedding_model", "embedding_dim", "embedded_hash"],
        )
        total += len(batch)
    return total
