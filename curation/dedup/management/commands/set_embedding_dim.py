"""Move the vector columns to another dimension (another embedding model).

Steps, in one transaction: drop the HNSW indexes, clear every stored vector and the
near-duplicate edges and open clusters built from them, change the column types to
vector(N), rebuild the indexes. Then set SEEDBED_EMBEDDING_DIM=N (and the backend or
model that produces N-d vectors) and run `manage.py dedup --project P` per project, or
let the beat sweep re-embed everything.

The migrations declare the columns with SEEDBED_EMBEDDING_DIM, so with the variable set
to N, `makemigrations --check` stays clean; no migration file has to change.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from curation.dedup.models import DupCluster, DupEdge
from curation.samples.models import Sample
from curation.seeds.models import Seed

INDEXES = (
    (Sample, "sample_embedding_hnsw"),
    (Seed, "seed_embedding_hnsw"),
)


class Command(BaseCommand):
    help = "Change the dimension of the vector columns (clears all embeddings)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("dim", type=int)
        parser.add_argument("--m", type=int, default=16)
        parser.add_argument("--ef-construction", type=int, default=64)

    def handle(self, *args: Any, **opts: Any) -> None:
        dim = opts["dim"]
        if not 1 <= dim <= 2000:
            raise CommandError("pgvector's HNSW index takes 1 to 2000 dimensions.")
        with transaction.atomic(), connection.cursor() as cur:
            DupEdge.objects.all().delete()
            DupCluster.objects.open().delete()
            # ALTER TABLE refuses to run while deferred FK checks are pending in this transaction.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for model, index in INDEXES:
                table = connection.ops.quote_name(model._meta.db_table)
                cur.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(index)}")
                cur.execute(
                    f"UPDATE {table} SET embedding = NULL, embedding_model = '', "  # noqa: S608
                    "embedding_dim = NULL, embedded_hash = ''"
                )
                cur.execute(f"ALTER TABLE {table} ALTER COLUMN embedding TYPE vector({dim})")
                cur.execute(
                    f"CREATE INDEX {connection.ops.quote_name(index)} ON {table} USING hnsw "
                    f"(embedding vector_cosine_ops) WITH (m = {int(opts['m'])}, "
                    f"ef_construction = {int(opts['ef_construction'])})"
                )
        self.stdout.write(
            f"Vector columns are now vector({dim}) and empty. Set SEEDBED_EMBEDDING_DIM={dim} "
            "and re-embed (manage.py dedup --project P)."
        )
