"""Test settings: the app's own settings, with the environment a test run needs.

The environment must be set before curation.settings is imported, which pytest-django
does before any conftest runs; hence this module rather than conftest.py.
"""

from __future__ import annotations

import os

os.environ["SEEDBED_SKIP_ENV_FILE"] = "1"  # never the developer's .env
os.environ["DEBUG"] = "1"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
os.environ.setdefault("SEEDBED_LOCAL_MODEL", "off")
os.environ.pop("SEEDBED_LLM_BASE_URL", None)

import tempfile

from curation.settings import *  # noqa: F403

# whitenoise wants STATIC_ROOT to exist; tests never collect static files.
STATIC_ROOT = tempfile.mkdtemp(prefix="seedbed-static-")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
