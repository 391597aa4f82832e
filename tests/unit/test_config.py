"""Configuration: defaults, LMS_* overrides, validation at start-up, nothing connects at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.config import ConfigError, load_config


def test_defaults_are_embedded():
    s = load_config("development", environ={})
    assert s["DATABASE_URL"].startswith("sqlite:///") and s["STORAGE"] == "local" and s["REDIS_URL"] is None
    assert s["SECRET_KEY"] and s["SFU_SECRET"]  # generated under instance/, never in the repo


def test_env_overrides_are_typed():
    s = load_config(
        "development",
        environ={
            "LMS_IDLE_TIMEOUT_MIN": "15",
            "LMS_SESSION_COOKIE_SECURE": "yes",
            "LMS_DATABASE_URL": "postgresql://u@h/db",
        },
    )
    assert s["IDLE_TIMEOUT_MIN"] == 15 and s["SESSION_COOKIE_SECURE"] is True
    assert s["DATABASE_URL"] == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LMS_IDLE_TIMEOUT_MIN": "soon"}, "integer"),
        ({"LMS_IDLE_TIMEOUT_MIN": "0"}, "between"),
        ({"LMS_SESSION_COOKIE_SECURE": "maybe"}, "true or false"),
        ({"LMS_DATABASE_URL": "mysql://x"}, "sqlite:// or postgresql://"),
        ({"LMS_STORAGE": "ftp"}, "'local' or 's3'"),
        ({"LMS_REDIS_URL": "http://x"}, "redis://"),
        ({"LMS_DEFAULT_LOCALE": "fr"}, "'ko' or 'en'"),
        ({"LMS_ENV": "staging"}, "LMS_ENV"),
    ],
)
def test_bad_settings_fail_at_start_up(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ=env)


def test_production_demands_secrets_and_postgres():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config("production", environ={})
    good = {"LMS_SECRET_KEY": "k" * 40, "LMS_SFU_SECRET": "s" * 40}
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_config("production", environ=good)
    s = load_config("production", environ={**good, "LMS_DATABASE_URL": "postgresql://db/ieum"})
    assert s["SESSION_COOKIE_SECURE"] is True and s["PASSWORD_HASHING"] == "owasp"
    with pytest.raises(ConfigError, match="PASSWORD_HASHING"):
        load_config(
            "production",
            environ={**good, "LMS_DATABASE_URL": "postgresql://db/ieum", "LMS_PASSWORD_HASHING": "test"},
        )


def test_importing_the_app_connects_to_nothing():
    code = (
        "import socket\n"
        "def boom(*a, **k): raise SystemExit('connected at import')\n"
        "socket.socket.connect = boom\n"
        "import app, app.extensions, courses.models, courses.workflow, media.storage\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
