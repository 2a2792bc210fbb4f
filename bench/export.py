"""Export throughput and memory: our streamed builder against a naive one-process export.

Sets up a throw-away embedded Postgres, inserts N accepted samples with COPY, then builds
the export in a child process (as a worker would) and measures its wall time and peak RSS
(os.wait4's ru_maxrss for that child alone). JSONL and Parquet, then the naive baseline:
the whole queryset in a list, `json.dumps` per row, one write. Then, on a 100k-sample
project, a build through the API while a thread times UI page loads, and the download.

    .venv/bin/python bench/export.py [--samples 1000000] [--ui-samples 100000] [--no-naive]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORDS = "the of and to in is that for it as with was on be by at this have from or an".split()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def child_env(db_url: str, media: Path) -> dict[str, str]:
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "curation.settings",
        "SEEDBED_SKIP_ENV_FILE": "1",
        "DEBUG": "1",  # as bench/generation.py: static files without collectstatic
        "SECRET_KEY": "bench-export-secret-key-0123456789-abcdefghijklmnop",
        "CELERY_BROKER_URL": "memory://",
        # Not eager: the API's enqueue must not build inside the request; the bench starts
        # the build in a worker-like child process instead.
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DATABASE_URL": db_url,
        "MEDIA_ROOT": str(media),
        "LOG_LEVEL": "WARNING",
    }


def setup_django(env: dict[str, str]) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# -- children ---------------------------------------------------------------------------


def child_main(args: argparse.Namespace) -> None:
    setup_django(dict(os.environ))
    import logging

    phases: dict[str, Any] = {}

    class Phases(logging.Handler):  # the builder logs its wall time per phase
        def emit(self, record: logging.LogRecord) -> None:
            phases.update(record.args[2])  # type: ignore[index]

    builder_log = logging.getLogger("curation.exports.builder")
    builder_log.addHandler(Phases())
    builder_log.setLevel(logging.INFO)
    started = time.perf_counter()
    if args.child == "build":
        from curation.exports.services import build_export

        if os.environ.get("BENCH_PROFILE"):  # where the time goes: BENCH_PROFILE=out.prof
            import cProfile

            cProfile.runctx(
                "build_export(args.export_id)", globals(), locals(), os.environ["BENCH_PROFILE"]
            )
            from curation.exports.models import Export

            export = Export.objects.get(pk=args.export_id)
        else:
            export = build_export(args.export_id)
        assert export is not None and export.status == "complete", export and export.error
        rows = export.rows_written
    elif args.child == "fetch":  # the floor: the same rows fetched as text, nothing written
        from django.db import connection

        rows = 0
        with connection.cursor() as c:
            c.execute("BEGIN")
        with connection.chunked_cursor() as cur:
            cur.execute(
                "SELECT id, messages::text FROM runs_sample WHERE project_id = %s "
                "AND status = 'accepted' ORDER BY id",
                [args.project_id],
            )
            while chunk := cur.fetchmany(5000):
                rows += len(chunk)
    else:  # the naive baseline: everything in memory, then one write
        from curation.samples.models import Sample

        samples = list(Sample.objects.filter(project_id=args.project_id, status="accepted"))
        text = "".join(json.dumps({"messages": s.messages}) + "\n" for s in samples)
        Path(args.out).write_text(text)
        rows = len(samples)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows, "phases": phases}))


def run_child(env: dict[str, str], *argv: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)  # the child's own CPU time
    return result


# -- data -------------------------------------------------------------------------------


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def insert_samples(conn: Any, project_id: int, n: int, seed: int) -> float:
    """COPY n accepted SFT samples; every NOT NULL column without a value here gets a
    neutral one by type, so the bench survives new columns."""
    rng = random.Random(seed)
    given = {
        "project_id": None, "kind": "sft", "messages": None, "extra": "{}", "seed_ids": "{}",
        "step": "", "recipe_id": "self_instruct", "recipe_version": "1", "prompt_version": "p1",
        "model": "bench-model", "tokens_in": 0, "tokens_out": 0, "source": "run",
        "content_hash": None, "status": "accepted", "tags": "{}", "embedding_model": "",
        "dup_status": "unique", "label": "",
    }  # fmt: skip
    neutral = {"text": "", "character varying": "", "integer": 0, "bigint": 0, "boolean": "f"}
    neutral |= {"jsonb": "{}", "ARRAY": "{}", "double precision": 0, "smallint": 0}
    cols = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
        "'runs_sample' AND is_nullable = 'NO' AND column_default IS NULL AND column_name <> 'id'"
    ).fetchall()
    names = [c for c, _ in cols]
    started = time.perf_counter()
    with conn.cursor() as cur, cur.copy(f"COPY runs_sample ({', '.join(names)}) FROM STDIN") as cp:
        now = time.strftime("%Y-%m-%d %H:%M:%S+00")
        for i in range(n):
            user = f"{sentence(rng, 12)} ({seed}-{i})"
            messages = json.dumps(
                [
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": sentence(rng, 50)},
                ]
            )
            row = []
            for name, kind in cols:
                if name == "project_id":
                    row.append(project_id)
                elif name == "messages":
                    row.append(messages)
                elif name == "content_hash":
                    row.append(hashlib.sha256(messages.encode()).hexdigest())
                elif name in given:
                    row.append(given[name])
                elif kind.startswith("timestamp"):
                    row.append(now)
                else:
                    row.append(neutral.get(kind, ""))
            cp.write_row(row)
    conn.execute("ANALYZE runs_sample")
    return time.perf_counter() - started


# -- the 100k API + UI check ------------------------------------------------------------


def serve(port: int) -> Any:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", port, get_wsgi_application(), Threaded, Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def ui_check(env: dict[str, str], user: Any, project: Any, n: int) -> dict[str, Any]:
    import httpx
    from django.test import Client

    from curation.projects.services import issue_api_token

    _, token = issue_api_token(user, "bench")
    session = Client()
    session.force_login(user)
    cookie = session.cookies["sessionid"].value
    server = serve(0)
    base = f"http://127.0.0.1:{server.server_port}"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    ui = httpx.Client(base_url=base, cookies={"sessionid": cookie}, timeout=60)
    started = time.perf_counter()
    created = api.post(f"/api/v1/projects/{project.pk}/exports", json={"format": "openai"})
    assert created.status_code == 201, created.text
    export_id = created.json()["id"]
    # The API enqueued the build; eager Celery would run it in this process, so the bench
    # starts a worker-like child and lets the web server answer meanwhile.
    worker = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "build",
            "--export-id",
            str(export_id),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    latencies, polls = [], 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        t = time.perf_counter()
        page = ui.get(f"/projects/{project.pk}/exports/")
        latencies.append(time.perf_counter() - t)
        assert page.status_code == 200, page.status_code
        polls += 1
        if api.get(f"/api/v1/exports/{export_id}").json()["status"] in ("complete", "failed"):
            break
    worker.wait()
    built_s = time.perf_counter() - started
    info = api.get(f"/api/v1/exports/{export_id}").json()
    t = time.perf_counter()
    digest, size = hashlib.sha256(), 0
    with api.stream("GET", f"/api/v1/exports/{export_id}/download") as response:
        for block in response.iter_bytes():
            digest.update(block)
            size += len(block)
    download_s = time.perf_counter() - t
    server.shutdown()
    return {
        "ui_samples": n,
        "ui_status": info["status"],
        "ui_build_s": round(built_s, 2),
        "ui_page_loads_during_build": polls,
        "ui_page_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "ui_page_max_ms": round(max(latencies) * 1000, 1),
        "ui_download_mb": round(size / 1e6, 1),
        "ui_download_s": round(download_s, 2),
        "ui_download_sha256_ok": digest.hexdigest() == info["sha256"],
    }


# -- main -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", "-n", type=int, default=1_000_000)
    parser.add_argument("--ui-samples", type=int, default=100_000, help="0 skips the UI check")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--child", choices=["build", "naive", "fetch"], help=argparse.SUPPRESS)
    parser.add_argument("--export-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--project-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    from _pg import database_url, start_postgres

    tmp = Path(tempfile.mkdtemp(prefix="sbx-"))
    server, host, port = start_postgres(tmp)
    try:
        db_url = database_url(host, port)
        env = child_env(db_url, tmp / "media")
        setup_django(env)
        print(json.dumps(run(args, env, host, port, tmp)))
    finally:
        from django.db import connections

        connections.close_all()
        server.cleanup()


def run(
    args: argparse.Namespace, env: dict[str, str], host: str, port: int, tmp: Path
) -> dict[str, Any]:
    import psycopg
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from curation.exports import services
    from curation.projects.services import create_project

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password-1234")  # noqa: S106
    project = create_project(user, "Bench")
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="bench", autocommit=True
    ) as c:
        log(f"inserting {args.samples:,} samples with COPY")
        insert_s = insert_samples(c, project.pk, args.samples, seed=1)
    out: dict[str, Any] = {
        "bench": "export",
        "samples": args.samples,
        "insert_s": round(insert_s, 1),
    }
    for kind in os.environ.get("BENCH_KINDS", "jsonl,parquet").split(","):
        export = services.create_export(
            user, project, format="openai", parquet=kind == "parquet", enqueue=False
        )
        log(f"building {kind}")
        r = run_child(env, "--child", "build", "--export-id", str(export.pk))
        export.refresh_from_db()
        data = next(f for f in export.files if f["name"] == f"train.{kind}")
        out |= {
            f"{kind}_rows": r["rows"],
            f"{kind}_s": round(r["seconds"], 2),
            f"{kind}_rows_per_s": round(r["rows"] / r["seconds"]),
            f"{kind}_peak_rss_mb": r["peak_rss_mb"],
            f"{kind}_cpu_s": r["cpu_s"],
            f"{kind}_phases_s": r["phases"],
            f"{kind}_file_mb": round(data["bytes"] / 1e6, 1),
        }
    r = run_child(env, "--child", "fetch", "--project-id", str(project.pk))
    out["fetch_only_rows_per_s"] = round(r["rows"] / r["seconds"])  # the database's floor
    if not args.no_naive:
        log("naive baseline")
        r = run_child(
            env,
            "--child",
            "naive",
            "--project-id",
            str(project.pk),
            "--out",
            str(tmp / "naive.jsonl"),
        )
        out |= {
            "naive_s": round(r["seconds"], 2),
            "naive_rows_per_s": round(r["rows"] / r["seconds"]),
            "naive_peak_rss_mb": r["peak_rss_mb"],
            "naive_cpu_s": r["cpu_s"],
        }
    if args.ui_samples:
        small = create_project(user, "Bench UI")
        with psycopg.connect(
            host=host, port=port, user="postgres", dbname="bench", autocommit=True
        ) as c:
            insert_samples(c, small.pk, args.ui_samples, seed=2)
        log(f"API build + download of {args.ui_samples:,} while loading the UI")
        out |= ui_check(env, user, small, args.ui_samples)
    kinds = [k for k in ("jsonl", "parquet") if f"{k}_rows" in out]
    out["targets_met"] = all(
        out[f"{k}_rows_per_s"] >= 50_000 and out[f"{k}_peak_rss_mb"] < 300 for k in kinds
    )
    return out


if __name__ == "__main__":
    main()
