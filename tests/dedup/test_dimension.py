"""The migration path to another dimension: set_embedding_dim alters the columns."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DataError, connection, transaction

from curation.samples.models import Sample
from tests.factories import SampleFactory

pytestmark = pytest.mark.django_db


def column_type(table: str) -> str:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'embedding'",
            [table],
        )
        return str(cur.fetchone()[0])


def test_set_embedding_dim_clears_vectors_and_resizes_both_columns() -> None:
    sample = SampleFactory(embedding=[0.1] * 384, embedding_model="all-MiniLM-L6-v2")
    call_command("set_embedding_dim", "8")  # rolled back with the test's transaction
    assert column_type("runs_sample") == "vector(8)" == column_type("seeds_seed")
    sample.refresh_from_db()
    assert sample.embedding is None and sample.embedding_model == ""
    Sample.objects.filter(pk=sample.pk).update(embedding=[0.5] * 8)
    with pytest.raises(DataError), transaction.atomic():
        Sample.objects.filter(pk=sample.pk).update(embedding=[0.5] * 384)
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'sample_embedding_hnsw'")
        assert "hnsw" in cur.fetchone()[0]
