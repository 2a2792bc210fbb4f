from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_test_database_is_postgres_18_with_pgvector() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('server_version_num')::int")
        assert cur.fetchone()[0] >= 180000
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone() is not None
