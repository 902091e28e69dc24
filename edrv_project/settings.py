"""Every setting the product reads from the environment, in one place.

The README's configuration table documents each variable read here.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from edrv_project.channel_layers import redis_channel_layers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state: SQLite test files, the folder broker, beat's schedule
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Public, so good for development only: with DEBUG off the app refuses to start on it.
DEVELOPMENT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)


def secret_key_check(*, debug: bool, secret_key: str) -> None:
    """ImproperlyConfigured when DEBUG is off and SECRET_KEY is unset or the development key: sessions,
    CSRF tokens and password reset links are signed with it, and anyone can read that one."""
    if not debug and secret_key.strip() in ("", DEVELOPMENT_SECRET_KEY):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set (or is the development key) and DEBUG is off. Set SECRET_KEY to a "
            "long random value of your own, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`; for development, set DEBUG=true."
        )


secret_key_check(debug=DEBUG, secret_key=SECRET_KEY)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Fernet keys that encrypt stored secrets (edrv_project/encryption.py), newest first. None: with DEBUG
# on, a development key derived from SECRET_KEY; with DEBUG off, every process refuses to start.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])
if not DEBUG and not ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "ENCRYPTION_KEYS is not set and DEBUG is off: stored secrets are encrypted with it. Generate a key "
        "with `python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
    )

# HTTPS only when DEBUG is off; each can be switched for a proxy that terminates TLS (README, "Running in
# production"). HSTS covers this host and its subdomains.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and Prometheus reach each process on its private address over plain HTTP (README, "Metrics").
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# "HTTP_X_FORWARDED_PROTO,https": a request carrying that header and value came over HTTPS. Only behind a
# proxy that sets the header on every request (and drops the client's): anyone can send it.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER is a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https."
    )
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1]) if _proxy_ssl_header else None
# `check --deploy` warns without HSTS preloading, which asks browser vendors to hard-code HTTPS for the
# whole registered domain: a commitment for the operator to make (SECURE_HSTS_PRELOAD=true), not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "organizations",
    "chargestations",
    "sessions_app",
    "ocpp_gateway",
    "webhooks",
    "edrv_project",  # the composition of the apps: the demo (seed_demo), the overview page
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware: its slash redirects come first, the JSON 404 of /api/ after them.
    "edrv_project.api_middleware.ApiInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Under DEBUG too, an unknown page is the product's 404, not Django's list of every URL pattern.
    "edrv_project.not_found.ProductNotFoundMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "edrv_project.urls"
WSGI_APPLICATION = "edrv_project.wsgi.application"
ASGI_APPLICATION = "edrv_project.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Django's backends with deferred statements: a change's outbox row rides with its COMMIT
# (edrv_project/db_backends/deferred.py).
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.postgresql": "edrv_project.db_backends.postgresql",
    "django.db.backends.sqlite3": "edrv_project.db_backends.sqlite3",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])
if DATABASES["default"]["ENGINE"] == "edrv_project.db_backends.sqlite3":
    # Web, worker and beat share one SQLite file under `make run`: wait for locks, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file, not memory, so that end-to-end tests can share the test database with a worker.
    # One per test run, so that runs side by side never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Logins (the dashboard's and the admin's) are throttled by django-axes: after AXES_FAILURE_LIMIT failures
# from one client address, or for one username, that address or username is locked out for
# AXES_COOLOFF_MINUTES (a 429 page). Failures are counted in the database, which every web process shares.
AUTHENTICATION_BACKENDS = [
    "edrv_project.login_throttle.LoginThrottleBackend",  # first: it refuses locked-out logins
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
# Comma: each counts on its own; "+": counted together (e.g. "username+ip_address").
AXES_LOCKOUT_PARAMETERS = [
    parameter.split("+") if "+" in parameter else parameter
    for parameter in env.list("AXES_LOCKOUT_PARAMETERS", default=["ip_address", "username"])
]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Failures are what throttling needs; a row per successful login would only grow.
AXES_DISABLE_ACCESS_LOG = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="eDRV Webhooks <webhooks@localhost>")

# Celery: Redis when REDIS_URL is set; otherwise a broker that needs no server (a folder).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _broker_dir = Path(env.str("CELERY_FILESYSTEM_BROKER_DIR", default=str(VAR_DIR / "broker")))
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": env.float("CELERY_FILESYSTEM_POLLING_INTERVAL", default=0.2),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# The threads pool polls the broker (no event loop): a worker whose prefetch is used up sleeps
# up to 2 s before it fetches again, even when its threads are idle. Prefetching a few tasks per
# thread keeps them busy; a worker that dies with prefetched tasks loses nothing (the outbox
# sweeper re-enqueues every due delivery that no worker holds).
CELERY_WORKER_PREFETCH_MULTIPLIER = 8
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must never hang a request when the broker is down: the sweeper covers it.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Workers and beat wait for a broker that went away; publishing still gives up after the timeout.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Celery's Django fixup closes every database connection before and after each task unless told to
# reuse them; edrv_project/celery.py recycles them as Django does between requests instead.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_TIMEZONE = "UTC"
# Workers log through LOGGING above (JSON lines, extras included), not through a handler of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Channels: how web and worker processes reach a charger's WebSocket connection.
# Redis connections one process may open for it at once: at least the chargers that may connect to
# one gateway process in the same second (all of them, after a restart).
CHANNEL_LAYER_MAX_CONNECTIONS = env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000)
CHANNEL_LAYERS = (
    redis_channel_layers(REDIS_URL, max_connections=CHANNEL_LAYER_MAX_CONNECTIONS)
    if REDIS_URL
    else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)

# The cache holds API throttling counters: shared by every web process when Redis is there.
# Give it a Redis database of its own: clearing a cache flushes its whole database.
CACHE_REDIS_URL = env.str("CACHE_REDIS_URL", default=REDIS_URL)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_REDIS_URL}
        if CACHE_REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# The largest request body (bytes, files aside): a larger one is a 413 (under /api/, in JSON; see
# edrv_project/api_middleware.py, which also refuses JSON nested too deep).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["organizations.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["organizations.permissions.HasOrganization"],
    "DEFAULT_PAGINATION_CLASS": "edrv_project.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["organizations.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_THROTTLE_RATE", default="1200/min")},
    "EXCEPTION_HANDLER": "edrv_project.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "eDRV Webhooks API",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {"DeliveryStatusEnum": "webhooks.models.DeliveryStatus"},
    "DESCRIPTION": "Manage the charging network and the webhooks that stream its events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: its schemas are JSON Schema 2020-12 (webhooks.schemas.envelopes serves them as such), and it has
    # `webhooks`: every event type, so that integrators can generate their receivers' types.
    "OAS_VERSION": "3.1.0",
    # One dotted path to the whole list (DRF imports a string setting as one object), built from
    # the catalog, rather than a path per event type to keep in step with it.
    "WEBHOOKS": "webhooks.schemas.envelopes.OPENAPI_WEBHOOKS",
    # The webhooks' bodies without readOnly (which request bodies hide), each with a real example.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webhooks.schemas.openapi.webhooks_without_read_only",
    ],
    # Served by the app itself: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# A log line is an event name with its context in `extra` (STYLE.md): the extras reach the output, as
# JSON lines in production, appended as key=value under DEBUG (`make run`). edrv_project/log_format.py
# masks any extra named like a secret.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "edrv_project.log_format.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {
            "()": "edrv_project.log_format.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="plain" if DEBUG else "json"),
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Every OCPP frame at INFO: set OCPP_FRAMES_LOG_LEVEL=INFO to trace a charger.
        "ocpp_gateway.frames": {"level": env.str("OCPP_FRAMES_LOG_LEVEL", default="WARNING")},
    },
}

# Webhooks (the pipeline's knobs; every one documented in the README).
WEBHOOKS_ALLOWED_NETWORKS = env.list("WEBHOOKS_ALLOWED_NETWORKS", default=[])
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
WEBHOOKS_RETRY_SCHEDULE = env.list(
    "WEBHOOKS_RETRY_SCHEDULE", cast=float, default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000]
)
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=5.0)
WEBHOOKS_DISABLE_AFTER = env.int("WEBHOOKS_DISABLE_AFTER", default=432000)
WEBHOOKS_DISABLE_MIN_FAILURES = env.int("WEBHOOKS_DISABLE_MIN_FAILURES", default=10)
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=30)
WEBHOOKS_SWEEP_INTERVAL = env.float("WEBHOOKS_SWEEP_INTERVAL", default=5.0)
WEBHOOKS_BATCH_SIZE = env.int("WEBHOOKS_BATCH_SIZE", default=100)
WEBHOOKS_CONCURRENCY = env.int("WEBHOOKS_CONCURRENCY", default=32)
# Bulk work (imports, the sweeper's drains, retries) waits here, beside Celery's default queue of fresh
# events: workers consume both (the Procfile's -Q), so that a backlog never holds fresh events back.
WEBHOOKS_BACKLOG_QUEUE = env.str("WEBHOOKS_BACKLOG_QUEUE", default="webhooks-backlog")
WEBHOOKS_SECRET_ROTATION_GRACE = env.int("WEBHOOKS_SECRET_ROTATION_GRACE", default=86400)
WEBHOOKS_WARN_AFTER = env.int("WEBHOOKS_WARN_AFTER", default=86400)
WEBHOOKS_WARN_MIN_FAILURES = env.int("WEBHOOKS_WARN_MIN_FAILURES", default=5)

# Metrics: GET /metrics (Prometheus text format), by client address or token (edrv_project/metrics.py
# says which address counts). X-Forwarded-For is believed only from METRICS_TRUSTED_PROXIES (none by
# default); an empty token turns token access off.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
METRICS_TRUSTED_PROXIES = env.list("METRICS_TRUSTED_PROXIES", default=[])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Every process counts in files of its own in this directory (prometheus_client's multiprocess
# mode) and /metrics adds up the files of every process of the host, so all of them must use the
# same one: it is exported to the environment, which prometheus_client reads and processes started
# from this one inherit. It is wiped when the whole group starts (`make run`), never by one process:
# the counters of a process that has exited still count. (`make pytest` gives a test run a directory
# of its own, so that it neither reads nor leaves figures in `make run`'s.)
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "prometheus"))
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR

# The OCPP gateway (ocpp_gateway).
OCPP_CANCEL_AFTER = env.float("OCPP_CANCEL_AFTER", default=120)
OCPP_COMMAND_TIMEOUT = env.float("OCPP_COMMAND_TIMEOUT", default=30)
OCPP_EV_CHARGED_AFTER = env.float("OCPP_EV_CHARGED_AFTER", default=300)
OCPP_EV_CHARGED_MAX_POWER = env.float("OCPP_EV_CHARGED_MAX_POWER", default=100)
OCPP_SILENCE_FACTOR = env.float("OCPP_SILENCE_FACTOR", default=2)
# Chargers authenticate with HTTP Basic (ocpp_gateway.auth): a station that has no authorization key may
# connect without one only when this is on, for development (`make run` turns it on). A station that has a
# key always needs it.
OCPP_ALLOW_UNSECURED = env.bool("OCPP_ALLOW_UNSECURED", default=False)
# Seconds a refused charger handshake waits before its answer at the third failure within 5 minutes for one
# endpoint or client address, doubling with each further one up to 30 times this. Never a correct key's.
OCPP_REFUSAL_DELAY = env.float("OCPP_REFUSAL_DELAY", default=1)
# Seconds between checks of the time ceilings of sessions whose charger sends no meter values.
OCPP_CEILINGS_CHECK_INTERVAL = env.float("OCPP_CEILINGS_CHECK_INTERVAL", default=15)

CELERY_BEAT_SCHEDULE = {
    "webhooks-sweep": {
        "task": "webhooks.outbox_sweep",
        "schedule": WEBHOOKS_SWEEP_INTERVAL,
    },
    "webhooks-purge": {"task": "webhooks.outbox_purge", "schedule": 3600.0},
    "ocpp-silence-check": {"task": "ocpp_gateway.tasks.chargestations_silent_offline", "schedule": 60.0},
    "ocpp-cancel-overdue": {"task": "ocpp_gateway.tasks.sessions_cancel_overdue", "schedule": 30.0},
    "ocpp-transactions-purge": {"task": "ocpp_gateway.tasks.charger_transactions_purge", "schedule": 3600.0},
    "ocpp-time-ceilings": {
        "task": "ocpp_gateway.tasks.sessions_time_ceiling_check",
        "schedule": OCPP_CEILINGS_CHECK_INTERVAL,
    },
}
