"""bench/review: claim + submit through the REST API at 100k samples, 20 annotators at once.

Set-up: a throw-away embedded Postgres, migrations, one project with N samples (COPY), one
queue over all of them (overlap 2), 20 annotators with API tokens, and the app served by
gunicorn (sync workers, as in production) on loopback. Each annotator is a thread that
loops POST /queues/{id}/claim, then POST /assignments/{id}/submit, for --seconds.

Server time is what the app reports in its `Server-Timing` header (Django's own time for the
request), so it excludes the time a request waited for a free worker; the client round trip
is reported beside it. --done-fraction first marks that share of the queue as reviewed (in
claim order), to show that a queue near its end claims as fast as a fresh one.

Prints one JSON line. Target (issue 4): p95 of claim + submit server time < 50 ms at 100k.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pg import database_url, start_postgres  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup_django(tmp: Path) -> tuple[Any, dict[str, str]]:
    server, host, port = start_postgres(tmp)
    env = {
        "DJANGO_SETTINGS_MODULE": "curation.settings",
        "SEEDBED_SKIP_ENV_FILE": "1",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": "bench-review-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DATABASE_URL": database_url(host, port),
        "MEDIA_ROOT": str(tmp / "media"),
        "LOG_LEVEL": "WARNING",
        "SECURE_SSL_REDIRECT": "0",  # plain http on loopback, as `make run` serves it
        "SEEDBED_LOCAL_MODEL": "off",
    }
    os.environ.update(env)
    import django

    django.setup()
    return server, env


def populate(n: int, annotators: int, overlap: int, done_fraction: float) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from psycopg.types.json import Jsonb

    from curation.projects.models import Membership, Role
    from curation.projects.services import create_project, issue_api_token
    from curation.review import services

    call_command("migrate", verbosity=0, interactive=False)
    owner = get_user_model().objects.create_user("bench-owner")
    project = create_project(owner, "Review bench")
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    cols = (
        "project_id, kind, status, messages, extra, content_hash, source, seed_ids, tags,"
        " dup_status, judge_score, step, recipe_id, recipe_version, prompt_version, model,"
        " tokens_in, tokens_out, embedding_model, label, text_hash, embedded_hash,"
        " created_at, updated_at"
    )
    with (
        connection.cursor() as cur,
        cur.cursor.copy(f"COPY runs_sample ({cols}) FROM STDIN") as copy,
    ):
        for i in range(n):
            messages = [
                {"role": "user", "content": f"Write a haiku about item {i}."},
                {"role": "assistant", "content": f"Item {i} / quiet in the queue / waits"},
            ]
            copy.write_row(
                (
                    project.pk,
                    "sft",
                    "pending",
                    Jsonb(messages),
                    Jsonb({}),
                    f"{i:064x}",
                    "import",
                    [],
                    [],
                    "unique",
                    (i % 10) / 2,
                    "",
                    "",
                    "",
                    "",
                    "",
                    0,
                    0,
                    "",
                    "",
                    "",
                    "",
                    now,
                    now,
                )
            )
    insert_s = time.perf_counter() - t0
    tokens = []
    for i in range(annotators):
        user = get_user_model().objects.create_user(f"annotator-{i}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        tokens.append(issue_api_token(user, name="bench")[1])
    t0 = time.perf_counter()
    queue = services.create_queue(owner, project, name="bench", overlap=overlap)
    queue_s = time.perf_counter() - t0
    if done_fraction > 0:
        with connection.cursor() as cur:
            cur.execute(
                """
                UPDATE review_queueitem SET reviews_done = %s, settled = TRUE
                WHERE id IN (SELECT id FROM review_queueitem WHERE queue_id = %s
                             ORDER BY sort_key, id LIMIT %s)
                """,
                [overlap, queue.pk, int(n * done_fraction)],
            )
            cur.execute("ANALYZE")
    connection.close()
    return {"queue_id": queue.pk, "tokens": tokens, "insert_s": insert_s, "queue_s": queue_s}


class Annotator(threading.Thread):
    def __init__(self, port: int, token: str, queue_id: int, deadline: float) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.queue_id, self.deadline = port, token, queue_id, deadline
        self.claim_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.pair_ms: list[float] = []
        self.rtt_ms: list[float] = []
        self.errors: list[str] = []

    def post(self, path: str, body: dict[str, Any] | None) -> tuple[int, bytes, float, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = json.dumps(body or {}).encode()
        t0 = time.perf_counter()
        conn.request(
            "POST",
            path,
            body=data,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        payload = response.read()
        rtt = (time.perf_counter() - t0) * 1000
        timing = response.getheader("Server-Timing") or "app;dur=nan"
        conn.close()
        return response.status, payload, float(timing.split("dur=")[1]), rtt

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.deadline:
            status, payload, claim_ms, rtt1 = self.post(
                f"/api/v1/queues/{self.queue_id}/claim", None
            )
            if status == 204:
                return
            if status != 200:
                self.errors.append(f"claim {status}: {payload[:200]!r}")
                return
            assignment = json.loads(payload)["id"]
            n += 1
            decision = "accept" if (n + self.port + len(self.token)) % 3 else "reject"
            status, payload, submit_ms, rtt2 = self.post(
                f"/api/v1/assignments/{assignment}/submit",
                {"decision": decision, "rating": 1 + n % 5, "time_spent_ms": 1200},
            )
            if status != 200:
                self.errors.append(f"submit {status}: {payload[:200]!r}")
                return
            self.claim_ms.append(claim_ms)
            self.submit_ms.append(submit_ms)
            self.pair_ms.append(claim_ms + submit_ms)
            self.rtt_ms.append(rtt1 + rtt2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="gunicorn sync workers"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--done-fraction", type=float, default=0.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sbr-"))
    server, env = setup_django(tmp)
    web = None
    try:
        data = populate(args.samples, args.annotators, args.overlap, args.done_fraction)
        web = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "curation.wsgi",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{args.port}",
                "--no-control-socket",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                conn.request("GET", "/accounts/login/")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        t0 = time.monotonic()
        threads = [
            Annotator(args.port, token, data["queue_id"], t0 + args.seconds)
            for token in data["tokens"]
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        pairs = [x for t in threads for x in t.pair_ms]
        claims = [x for t in threads for x in t.claim_ms]
        submits = [x for t in threads for x in t.submit_ms]
        rtts = [x for t in threads for x in t.rtt_ms]
        errors = [e for t in threads for e in t.errors]
        print(
            json.dumps(
                {
                    "bench": "review",
                    "samples": args.samples,
                    "annotators": args.annotators,
                    "overlap": args.overlap,
                    "done_fraction_before": args.done_fraction,
                    "gunicorn_workers": args.workers,
                    "cpus": os.cpu_count(),
                    "pairs": len(pairs),
                    "errors": len(errors),
                    "first_error": errors[0] if errors else None,
                    "pairs_per_s": round(len(pairs) / wall, 1),
                    "claim_submit_server_p50_ms": round(pct(pairs, 50), 2),
                    "claim_submit_server_p95_ms": round(pct(pairs, 95), 2),
                    "claim_server_p50_ms": round(pct(claims, 50), 2),
                    "claim_server_p95_ms": round(pct(claims, 95), 2),
                    "submit_server_p50_ms": round(pct(submits, 50), 2),
                    "submit_server_p95_ms": round(pct(submits, 95), 2),
                    "claim_submit_roundtrip_p50_ms": round(pct(rtts, 50), 2),
                    "claim_submit_roundtrip_p95_ms": round(pct(rtts, 95), 2),
                    "target_p95_ms": 50,
                    "setup_insert_s": round(data["insert_s"], 1),
                    "setup_queue_s": round(data["queue_s"], 1),
                }
            )
        )
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=20)
        from django.db import connections

        connections.close_all()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
