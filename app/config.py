"""Configuration: classes with defaults, overridden by LMS_* environment variables, validated at start-up."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(ValueError):
    """A setting is missing or invalid."""


class Config:
    """Embedded defaults: SQLite under instance/, local file storage, in-process jobs."""

    ENV = "development"
    SECRET_KEY: str | None = None
    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'ieum.db'}"
    REDIS_URL: str | None = None
    STORAGE = "local"
    STORAGE_DIR = str(INSTANCE_DIR / "storage")
    S3_ENDPOINT: str | None = None
    S3_PUBLIC_ENDPOINT: str | None = None
    S3_ACCESS_KEY: str | None = None
    S3_SECRET_KEY: str | None = None
    S3_BUCKET = "ieum"
    S3_SECURE: str | None = None
    S3_REGION = "us-east-1"
    SFU_SECRET: str | None = None
    SFU_PUBLIC_URL = "ws://127.0.0.1:8765/ws"
    IDLE_TIMEOUT_MIN = 30
    SESSION_LIFETIME_HOURS = 12
    LOGIN_RATE_LIMIT = "10 per 5 minutes"
    LOGIN_ADDRESS_RATE_LIMIT = "30 per 5 minutes"
    API_TOKEN_RATE_LIMIT = "600 per minute"
    JOBS = ""  # rq | thread | manual; empty: rq when REDIS_URL is set, else a thread in the app process
    JOBS_QUEUE = "ieum-media"  # the RQ queue's name (deployments sharing one Redis use their own)
    VIDEO_MAX_BYTES = 8 * 1024**3
    VIDEO_MAX_ATTEMPTS = 3
    VIDEO_LEASE_S = 300
    VIDEO_JOB_TIMEOUT_S = 6 * 3600
    VIDEO_THREADS = 0  # ffmpeg's -threads (0: ffmpeg decides)
    VIDEO_UPLOAD_STALE_HOURS = 24
    HEARTBEAT_RATE_LIMIT = "60 per minute"
    SURVEY_OPEN_DAYS = 14  # a course's survey closes this many days after its end date
    RECORDING_RETENTION_DAYS = (
        365  # class recordings not published as a lesson are removed after this (0: kept)
    )
    DEMO_VIDEO_SECONDS = 60  # length of the generated demo lecture `flask seed-demo` adds (0: none)
    # Completion rules: the defaults a new course gets and the lowest threshold a requester may set.
    COMPLETION_WATCH_PCT = 90  # share of a recorded lesson's video to watch
    COMPLETION_ATTEND_PCT = 85  # share of a live lesson's scheduled time to attend
    COMPLETION_MIN_PCT = 50
    PASSWORD_HASHING = "owasp"
    # Notices beyond the app. E-mail is on when SMTP_HOST is set; SMS when SMS_HOOK names the school messaging
    # service's hook ("log": the development one). PUBLIC_URL is how links in mails and texts begin.
    SMTP_HOST: str | None = None
    SMTP_PORT = 587
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = True
    MAIL_FROM = "이음 <noreply@localhost>"
    SMS_HOOK: str | None = None
    PUBLIC_URL = "http://127.0.0.1:5000"
    DELIVERY_MAX_ATTEMPTS = 5
    DELIVERY_LEASE_S = 120
    PASSWORD_RESET_MINUTES = 30
    PASSWORD_RESET_RATE_LIMIT = "5 per 15 minutes"
    DEFAULT_LOCALE = "ko"
    SESSION_COOKIE_SECURE = False
    TESTING = False


class ProductionConfig(Config):
    ENV = "production"
    SESSION_COOKIE_SECURE = True


class TestConfig(Config):
    ENV = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production-0123456789"
    SFU_SECRET = "test-sfu-secret-0123456789abcdef"
    DATABASE_URL = "sqlite://"
    PASSWORD_HASHING = "test"
    JOBS = "manual"  # tests run a job by hand (media.worker.run_job) where they need one


CONFIGS: dict[str, type[Config]] = {"development": Config, "production": ProductionConfig, "test": TestConfig}

_BOOL = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def load_config(
    env: str | None = None, environ: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """Build the settings mapping: class defaults, then LMS_* variables, then explicit overrides."""
    environ = dict(os.environ if environ is None else environ)
    env = env or environ.get("LMS_ENV", "development")
    if env not in CONFIGS:
        raise ConfigError(f"LMS_ENV must be one of {sorted(CONFIGS)}, not {env!r}")
    cls = CONFIGS[env]
    settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
    for key, default in list(settings.items()):
        raw = environ.get(f"LMS_{key}")
        if raw is None:
            continue
        settings[key] = _coerce(key, raw, default)
    for key, value in overrides.items():
        settings[key.upper()] = value
    _validate(settings)
    return settings


def _coerce(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() not in _BOOL:
            raise ConfigError(f"LMS_{key} must be true or false, not {raw!r}")
        return _BOOL[raw.lower()]
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"LMS_{key} must be an integer, not {raw!r}") from None
    return raw


def _validate(s: dict[str, Any]) -> None:
    if s["ENV"] == "production":
        for key in ("SECRET_KEY", "SFU_SECRET"):
            if not s.get(key) or len(s[key]) < 32:
                raise ConfigError(f"LMS_{key} must be set to at least 32 characters in production")
        if s["DATABASE_URL"].startswith("sqlite"):
            raise ConfigError("LMS_DATABASE_URL must name PostgreSQL in production")
    if not s.get("SECRET_KEY"):
        s["SECRET_KEY"] = _instance_secret("secret_key")
    if not s.get("SFU_SECRET"):
        s["SFU_SECRET"] = _instance_secret("sfu_secret")
    if not s["DATABASE_URL"].startswith(("sqlite", "postgresql")):
        raise ConfigError("LMS_DATABASE_URL must be a sqlite:// or postgresql:// URL")
    if s["DATABASE_URL"].startswith("postgresql://"):
        s["DATABASE_URL"] = "postgresql+psycopg://" + s["DATABASE_URL"][len("postgresql://") :]
    if s["STORAGE"] not in ("local", "s3"):
        raise ConfigError("LMS_STORAGE must be 'local' or 's3'")
    try:  # building a backend connects to nothing, so the whole storage setup is checked here
        from media.storage import storage_from_config

        storage_from_config(storage_settings(s))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if s["REDIS_URL"] and not s["REDIS_URL"].startswith(("redis://", "rediss://")):
        raise ConfigError("LMS_REDIS_URL must be a redis:// URL")
    if not s["JOBS"]:
        s["JOBS"] = "rq" if s["REDIS_URL"] else "thread"
    if s["JOBS"] not in ("rq", "thread", "manual") or (s["JOBS"] == "rq" and not s["REDIS_URL"]):
        raise ConfigError("LMS_JOBS must be rq (with LMS_REDIS_URL), thread or manual")
    if not 1024**2 <= s["VIDEO_MAX_BYTES"] <= 5 * 1024**4:
        raise ConfigError("LMS_VIDEO_MAX_BYTES must be between 1 MiB and 5 TiB")
    lo = s["COMPLETION_MIN_PCT"]
    if not 1 <= lo <= 100 or not all(
        lo <= s[k] <= 100 for k in ("COMPLETION_WATCH_PCT", "COMPLETION_ATTEND_PCT")
    ):
        raise ConfigError(
            "LMS_COMPLETION_MIN_PCT must be 1-100 and LMS_COMPLETION_WATCH_PCT / LMS_COMPLETION_ATTEND_PCT "
            "between it and 100"
        )
    if not 1 <= s["VIDEO_MAX_ATTEMPTS"] <= 10 or not 2 <= s["VIDEO_LEASE_S"] <= 3600:
        raise ConfigError("LMS_VIDEO_MAX_ATTEMPTS must be 1-10 and LMS_VIDEO_LEASE_S 2-3600")
    if not 1 <= s["IDLE_TIMEOUT_MIN"] <= 24 * 60:
        raise ConfigError("LMS_IDLE_TIMEOUT_MIN must be between 1 and 1440")
    if not 1 <= s["SESSION_LIFETIME_HOURS"] <= 24 * 7:
        raise ConfigError("LMS_SESSION_LIFETIME_HOURS must be between 1 and 168")
    if s["PASSWORD_HASHING"] not in ("owasp", "test") or (
        s["ENV"] == "production" and s["PASSWORD_HASHING"] != "owasp"
    ):
        raise ConfigError("LMS_PASSWORD_HASHING must be 'owasp' ('test' only outside production)")
    if not 0 <= s["SURVEY_OPEN_DAYS"] <= 365:
        raise ConfigError("LMS_SURVEY_OPEN_DAYS must be between 0 and 365")
    if not (s["RECORDING_RETENTION_DAYS"] == 0 or 8 <= s["RECORDING_RETENTION_DAYS"] <= 36500):
        raise ConfigError(
            "LMS_RECORDING_RETENTION_DAYS must be 0 (keep) or 8-36500 (a notice goes out 7 days before)"
        )
    if s["DEFAULT_LOCALE"] not in ("ko", "en"):
        raise ConfigError("LMS_DEFAULT_LOCALE must be 'ko' or 'en'")
    _validate_delivery(s)


def _validate_delivery(s: dict[str, Any]) -> None:
    from email.headerregistry import Address
    from email.utils import parseaddr

    if not 1 <= s["SMTP_PORT"] <= 65535:
        raise ConfigError("LMS_SMTP_PORT must be between 1 and 65535")
    if bool(s.get("SMTP_USER")) != bool(s.get("SMTP_PASSWORD")):
        raise ConfigError("LMS_SMTP_USER and LMS_SMTP_PASSWORD are set together (or neither)")
    _name, addr = parseaddr(s["MAIL_FROM"])
    try:
        if "@" not in addr:
            raise ValueError(addr)
        Address(addr_spec=addr)
    except (ValueError, IndexError):
        raise ConfigError("LMS_MAIL_FROM must be an address, e.g. '이음 <noreply@school.example>'") from None
    if s.get("SMS_HOOK"):
        from courses.delivery.channels import load_hook

        try:
            load_hook(s["SMS_HOOK"])
        except ValueError as err:
            raise ConfigError(str(err)) from None
    if not s["PUBLIC_URL"].startswith(("http://", "https://")):
        raise ConfigError("LMS_PUBLIC_URL must be an http:// or https:// URL (how links in mails begin)")
    if s["ENV"] == "production" and s.get("SMTP_HOST") and not s["PUBLIC_URL"].startswith("https://"):
        raise ConfigError("LMS_PUBLIC_URL must be https:// in production (mails carry password-reset links)")
    if not 1 <= s["DELIVERY_MAX_ATTEMPTS"] <= 20 or not 10 <= s["DELIVERY_LEASE_S"] <= 3600:
        raise ConfigError("LMS_DELIVERY_MAX_ATTEMPTS must be 1-20 and LMS_DELIVERY_LEASE_S 10-3600")
    if not 5 <= s["PASSWORD_RESET_MINUTES"] <= 24 * 60:
        raise ConfigError("LMS_PASSWORD_RESET_MINUTES must be between 5 and 1440")


def storage_settings(s: dict[str, Any]) -> dict[str, Any]:
    """The storage settings under the LMS_* names media.storage reads."""
    keys = (
        "STORAGE",
        "STORAGE_DIR",
        "SECRET_KEY",
        "S3_ENDPOINT",
        "S3_PUBLIC_ENDPOINT",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "S3_BUCKET",
        "S3_SECURE",
        "S3_REGION",
    )
    return {f"LMS_{k}": s[k] for k in keys if s.get(k) is not None}


def _instance_secret(name: str) -> str:
    """A random secret kept under instance/ so the first run works without setup (never in the repo)."""
    path = INSTANCE_DIR / name
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def flask_settings(s: dict[str, Any]) -> dict[str, Any]:
    """Translate our settings into the keys Flask and its extensions read."""
    storage = s["REDIS_URL"] or "memory://"
    return {
        **s,
        "SQLALCHEMY_DATABASE_URI": s["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}
        if s["DATABASE_URL"].startswith("postgresql")
        else {},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=s["IDLE_TIMEOUT_MIN"]),
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_HEADERS_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session, which idles out
        "BABEL_DEFAULT_LOCALE": s["DEFAULT_LOCALE"],
        "BABEL_DEFAULT_TIMEZONE": "Asia/Seoul",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    }
