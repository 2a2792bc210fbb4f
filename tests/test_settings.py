"""Production settings come from the environment, and pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from curation.envfile import read_env_file

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "SEEDBED_SKIP_ENV_FILE": "1",
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "production-secret-that-is-long-and-random-0123456789",
    "ALLOWED_HOSTS": "seedbed.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://seedbed.example.com",
    "DATABASE_URL": "postgres://seedbed:pw@db.internal:5432/seedbed",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDBED_", "DJANGO_"))}
    clean.pop("DEBUG", None)
    clean.pop("SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_nothing_with_the_documented_production_variables() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_app_refuses_to_start_without_a_secret_key_when_debug_is_off() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_env_file_reader_takes_plain_and_quoted_values(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# comment\nA=1\nB='two words'\nC=\"x=y\"\n\nnot a line\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x=y"}
