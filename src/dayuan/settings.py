"""One settings module, driven by environment variables (see the README's table).

Strict parsing: a malformed value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("DAYUAN_HOME", PACKAGE_DIR.parent.parent)).resolve()
VAR_DIR = Path(os.environ.get("DAYUAN_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DAYUAN_ENV = os.environ.get("DAYUAN_ENV", "development")
if DAYUAN_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DAYUAN_ENV must be 'development' or 'production'")
PRODUCTION = DAYUAN_ENV == "production"
DEBUG = env_bool("DAYUAN_DEBUG", not PRODUCTION)


def _secret_key() -> str:
    key = os.environ.get("DAYUAN_SECRET_KEY", "")
    if key:
        if PRODUCTION and len(key) < 50:
            raise ImproperlyConfigured("DAYUAN_SECRET_KEY must be at least 50 characters")
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("DAYUAN_SECRET_KEY is required when DAYUAN_ENV=production")
    # Development: generated once, kept under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Key of the audit hash chain (HMAC-SM3); defaults to one derived from SECRET_KEY.
AUDIT_HMAC_KEY = os.environ.get("DAYUAN_AUDIT_KEY", "") or ("audit:" + SECRET_KEY)
AUDIT_RETENTION_DAYS = max(env_int("DAYUAN_AUDIT_RETENTION_DAYS", 184), 184)

ALLOWED_HOSTS = env_list(
    "DAYUAN_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("DAYUAN_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    "ninja",
    "huey.contrib.djhuey",
    "dayuan.core",
    "dayuan.orgs",
    "dayuan.accounts",
    "dayuan.audit",
    "dayuan.notifications",
    "dayuan.workcalendar",
    "dayuan.standards",
    "dayuan.workorders",
    "dayuan.inspections",
    "dayuan.supervision",
    "dayuan.assessment",
    "dayuan.bookings",
    "dayuan.canteen",
    "dayuan.resources",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dayuan.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dayuan.accounts.middleware.SessionTimeoutMiddleware",
    "dayuan.core.middleware.RequestContextMiddleware",
    "dayuan.core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dayuan.urls"
WSGI_APPLICATION = "dayuan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dayuan.core.context_processors.shell",
            ]
        },
    }
]

# --- Database -------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "dayuan.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DAYUAN_DB_CONN_MAX_AGE", 60))
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(SQLITE_PATH)}

if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
    # BEGIN so check-then-write inside a transaction cannot interleave; the busy
    # timeout turns lock waits into waits, not errors.
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA mmap_size=134217728;"
                "PRAGMA cache_size=-20000;"
            ),
        }
    )
    _db["CONN_MAX_AGE"] = 0
    # Tests use a real file, so threads in concurrency tests share one database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_dayuan.sqlite3")}
else:
    _db.setdefault("CONN_HEALTH_CHECKS", True)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
LOGIN_LOCKOUT_FAILURES = env_int("DAYUAN_LOGIN_LOCKOUT_FAILURES", 5)
LOGIN_LOCKOUT_MINUTES = env_int("DAYUAN_LOGIN_LOCKOUT_MINUTES", 15)
# Days after publication in which the assessed party may appeal an assessment run.
ASSESSMENT_APPEAL_DAYS = env_int("DAYUAN_ASSESSMENT_APPEAL_DAYS", 7)
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("DAYUAN_SESSION_IDLE_MINUTES", 30))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("DAYUAN_SESSION_ABSOLUTE_HOURS", 12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
API_TOKEN_DAYS = env_int("DAYUAN_API_TOKEN_DAYS", 30)

# --- Security (production) ------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True
    SECURE_SSL_REDIRECT = env_bool("DAYUAN_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DAYUAN_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = os.environ.get(
    "DAYUAN_CSP",
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
)
# The API docs page loads its own script inline; CSP is relaxed only there.
CSP_EXEMPT_PREFIXES = ["/api/v1/docs"]

# --- I18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DAYUAN_STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DAYUAN_MEDIA_ROOT", VAR_DIR / "media"))

# --- Cache ----------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Jobs (Huey) ----------------------------------------------------------------------
HUEY_IMMEDIATE = env_bool("DAYUAN_TASKS_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "dayuan",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("DAYUAN_WORKERS", 2), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "dayuan",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("DAYUAN_WORKERS", 2), "worker_type": "thread"},
    }

# --- E-mail and notifications ---------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DAYUAN_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("DAYUAN_EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("DAYUAN_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DAYUAN_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("DAYUAN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DAYUAN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DAYUAN_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DAYUAN_EMAIL_FROM", "dayuan@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
WEBHOOK_TIMEOUT_SECONDS = env_int("DAYUAN_WEBHOOK_TIMEOUT", 5)
# Public base URL, for links in e-mails and group-robot messages (relative links are
# left out of those until it is set).
SITE_URL = os.environ.get("DAYUAN_SITE_URL", "")

# --- Work orders --------------------------------------------------------------------
WORKORDER_REOPEN_DAYS = env_int("DAYUAN_WORKORDER_REOPEN_DAYS", 7)
WORKORDER_AUTOCLOSE_DAYS = env_int("DAYUAN_WORKORDER_AUTOCLOSE_DAYS", 3)
WORKORDER_PHOTO_MAX_BYTES = env_int("DAYUAN_WORKORDER_PHOTO_MAX_BYTES", 8 * 1024 * 1024)
WORKORDER_PHOTOS_MAX = env_int("DAYUAN_WORKORDER_PHOTOS_MAX", 6)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Inspections ----------------------------------------------------------------------
# Rectification deadlines per finding severity when no ``sla`` rule of category
# ``rectification`` is in force: (minutes, calendar). The standards normally say this.
INSPECTIONS_RECTIFY_DEFAULTS = {
    "key": (1440, "24x7"),
    "important": (1350, "working"),
    "general": (4500, "working"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DAYUAN_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
