"""What `/api/v1/health` reports: database, pgvector, broker and LLM endpoints."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from generation import llm


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('server_version')")
            version = cur.fetchone()[0]
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cur.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": row is not None,
        "postgres": version,
        "pgvector": row[0] if row else None,
        **({} if row else {"error": "pgvector extension missing"}),
    }


def check_broker() -> dict[str, Any]:
    from curation.celery import app

    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    if transport == "memory":
        return {"ok": True, "transport": transport}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": type(exc).__name__}
    return {"ok": True, "transport": transport}


def check_llm_endpoints() -> list[dict[str, Any]]:
    """The endpoints worth probing: the configured default (local model or external)."""
    results = []
    base_url = settings.SEEDBED_LLM_BASE_URL
    name = "external"
    if not base_url and settings.SEEDBED_LOCAL_MODEL != "off":
        base_url = f"http://127.0.0.1:{settings.SEEDBED_LLM_PORT}/v1"
        name = "local"
    if base_url:
        probe = llm.probe(base_url, settings.SEEDBED_LLM_API_KEY, timeout=3.0)
        results.append({"name": name, **probe})
    return results


def health() -> dict[str, Any]:
    database = check_database()
    broker = check_broker()
    endpoints = check_llm_endpoints()
    ok = database["ok"] and broker["ok"] and all(e["ok"] for e in endpoints)
    return {"ok": ok, "database": database, "broker": broker, "llm": endpoints}
