"""Migrations: one head, upgrade from empty matches the models, downgrade works — on each backend."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


def _flask(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLASK_APP": "app:create_app", "LMS_DATABASE_URL": url, "LMS_ENV": "development"}
    return subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_single_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1


def _databases(tmp_path):
    yield "sqlite", f"sqlite:///{tmp_path / 'mig.db'}"
    if os.environ.get("LMS_TEST_POSTGRES_URL"):
        admin = make_url(
            os.environ["LMS_TEST_POSTGRES_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        )
        name = f"ieum_mig_{uuid.uuid4().hex[:8]}"
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield "postgresql", admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with eng.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            eng.dispose()


@pytest.mark.timeout(600)
def test_upgrade_from_empty_matches_models_and_downgrades(tmp_path):
    seen = []
    for backend, url in _databases(tmp_path):
        up = _flask(["db", "upgrade"], url)
        assert up.returncode == 0, f"{backend}: {up.stderr[-2000:]}"
        check = _flask(["db", "check"], url)  # autogenerate finds nothing: models and migrations agree
        assert (
            check.returncode == 0 and "No new upgrade operations detected" in check.stdout + check.stderr
        ), f"{backend}: {check.stdout[-1500:]} {check.stderr[-1500:]}"
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        assert "course" in inspect(engine).get_table_names()
        engine.dispose()
        down = _flask(["db", "downgrade", "base"], url)
        assert down.returncode == 0, f"{backend}: {down.stderr[-2000:]}"
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        seen.append(backend)
    assert seen[0] == "sqlite"
