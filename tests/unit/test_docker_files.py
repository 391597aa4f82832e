"""docker/ files are checked by parsing (no Docker engine runs here): services, commands, settings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from app.config import Config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_compose_has_every_production_piece():
    assert {"postgres", "redis", "minio", "coturn", "migrate", "app", "sfu"} <= set(COMPOSE["services"])
    assert COMPOSE["services"]["minio"]["image"].startswith("minio/minio")
    assert COMPOSE["services"]["postgres"]["image"].startswith("postgres:")


def test_every_lms_setting_in_compose_is_one_the_app_or_sfu_reads():
    known = {f"LMS_{k}" for k in dir(Config) if k.isupper()} | {"LMS_ENV"}
    sfu_src = "".join(p.read_text() for p in (ROOT / "webrtc").glob("*.py"))
    storage_src = "".join(p.read_text() for p in sorted((ROOT / "media" / "storage").glob("*.py")))
    for name, svc in COMPOSE["services"].items():
        env = svc.get("environment") or {}
        for key in env:
            if key.startswith("LMS_"):
                assert key in known or key in sfu_src or key in storage_src, (
                    f"{name}: {key} is read by nothing"
                )


def test_commands_name_modules_that_exist():
    for name in ("app", "migrate", "sfu"):
        svc = COMPOSE["services"][name]
        assert svc["build"]["dockerfile"] == "docker/Dockerfile"
    assert COMPOSE["services"]["sfu"]["command"][:3] == ["python", "-m", "webrtc"]
    assert COMPOSE["services"]["worker"]["command"] == ["python", "-m", "media.worker"]
    assert importlib.util.find_spec("media.worker") is not None
    assert importlib.util.find_spec("webrtc.__main__") is not None
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r'CMD \["gunicorn".*"app:create_app\(\)"\]', dockerfile)
    for path in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M):
        if not path.endswith(".json") and " " not in path:
            assert (ROOT / path).exists(), path


def test_secrets_are_never_in_the_compose_file():
    text = (ROOT / "docker" / "compose.yaml").read_text()
    for key in (
        "LMS_SECRET_KEY",
        "LMS_SFU_SECRET",
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "TURN_SECRET",
    ):
        for line in text.splitlines():
            if line.strip().startswith(f"{key}:"):
                assert "${" in line, line


def test_coturn_uses_time_limited_credentials():
    conf = (ROOT / "docker" / "coturn" / "turnserver.conf").read_text()
    assert re.search(r"^use-auth-secret", conf, flags=re.M)
    assert not re.search(r"^static-auth-secret=\S", conf, flags=re.M), "the secret comes from the environment"
