"""The contract's rules that both sides apply: room names, recording keys, roles and publish rights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts.roles import PublishKind, RecordMode, Role, token_publish_rights
from contracts.rooms import (
    INT64_MAX,
    is_recording_key_for,
    live_session_id,
    parse_recording_key,
    recording_key,
    room_name,
)

START = datetime(2026, 11, 22, 9, 30, 5, tzinfo=UTC)


def test_room_names_round_trip_within_64_bits() -> None:
    assert room_name(42) == "live-42" and live_session_id("live-42") == 42
    assert live_session_id(room_name(INT64_MAX)) == INT64_MAX
    for bad in [
        "live-0",
        "live-042",
        "live-",
        f"live-{INT64_MAX + 1}",
        "live-1 ",
        "LIVE-1",
        "live-١",
        42,
        None,
    ]:
        assert live_session_id(bad) is None, bad
    with pytest.raises(ValueError):
        room_name(0)


def test_the_sfu_key_is_the_key_the_app_accepts() -> None:
    key = recording_key("live-42", START, "0a1b2c3d", "video/x-matroska")
    assert key == "recordings/live-42/20261122T093005Z-0a1b2c3d.mkv"
    parsed = parse_recording_key(key)
    assert parsed is not None and (parsed.room, parsed.started_at, parsed.extension) == (
        "live-42",
        START,
        ".mkv",
    )
    assert is_recording_key_for(key, "live-42", "video/x-matroska")
    assert not is_recording_key_for(key, "live-43", "video/x-matroska")
    assert not is_recording_key_for(key, "live-42", "video/webm")
    # Times in other offsets are written in UTC.
    kst = START.astimezone(timezone(timedelta(hours=9)))
    assert recording_key("live-42", kst, "0a1b2c3d", "audio/webm").endswith("20261122T093005Z-0a1b2c3d.webm")


@pytest.mark.parametrize(
    "key",
    [
        "recordings/live-42/20261122T093005Z-0a1b2c3d.mkv/../x",
        "recordings/live-42/20261399T093005Z-0a1b2c3d.mkv",
        "recordings/live-42/20261122T093005Z-0A1B2C3D.mkv",
        "/recordings/live-42/20261122T093005Z-0a1b2c3d.mkv",
        "recordings/live-42/20261122T093005Z-0a1b2c3d.exe",
        "",
        None,
        7,
    ],
)
def test_other_keys_are_not_recording_keys(key: object) -> None:
    assert parse_recording_key(key) is None


@pytest.mark.parametrize(
    ("room", "nonce", "content_type"),
    [
        ("../x", "0a1b2c3d", "video/webm"),
        ("live-1", "xyz", "video/webm"),
        ("live-1", "0a1b2c3d", "text/html"),
    ],
)
def test_the_key_builder_refuses_what_it_cannot_build(room: str, nonce: str, content_type: str) -> None:
    with pytest.raises(ValueError):
        recording_key(room, START, nonce, content_type)


def test_roles_publish_rights_and_record_modes() -> None:
    assert token_publish_rights(Role.teacher) == token_publish_rights(Role.admin) == tuple(PublishKind)
    assert token_publish_rights(Role.student) == ()
    assert Role.admin.runs_class and not Role.student.runs_class
    assert not RecordMode.none and RecordMode("") is RecordMode.none
    assert RecordMode.teacher.records(True) and not RecordMode.teacher.records(False)
    assert RecordMode.stage.records(False) and not RecordMode.none.records(True)
