"""Room names and the object keys of class recordings, built and checked by one set of rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

ROOM_PREFIX = "live-"
INT64_MAX = 2**63 - 1
_LIVE_ROOM = re.compile(r"live-([1-9][0-9]{0,18})")
# Any room the SFU serves (the app's live-<id>, or a load test's own names) must be safe in a path.
_ROOM = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Content types the SFU's recorder writes, and the file extension each gets in object storage.
RECORDING_EXTENSIONS = {"video/x-matroska": ".mkv", "video/webm": ".webm", "audio/webm": ".webm"}
_RECORDING_KEY = re.compile(
    r"recordings/(?P<room>[A-Za-z0-9_-]{1,64})/(?P<stamp>[0-9]{8}T[0-9]{6}Z)-(?P<nonce>[0-9a-f]{8})"
    r"(?P<ext>\.mkv|\.webm)"
)
_STAMP = "%Y%m%dT%H%M%SZ"


def room_name(live_session_id: int) -> str:
    """The SFU room of a live session."""
    if not 0 < live_session_id <= INT64_MAX:
        raise ValueError("live session ids are positive 64-bit integers")
    return f"{ROOM_PREFIX}{live_session_id}"


def live_session_id(room: object) -> int | None:
    """The live session id a room name stands for, or None if it is not a platform room name."""
    if not isinstance(room, str):
        return None
    m = _LIVE_ROOM.fullmatch(room)
    if m is None:
        return None
    value = int(m.group(1))
    return value if value <= INT64_MAX else None


def recording_key(room: str, started_at: datetime, nonce: str, content_type: str) -> str:
    """The object key of a room's recording: ``recordings/<room>/<UTC start>-<8 hex><extension>``."""
    if not _ROOM.fullmatch(room):
        raise ValueError(f"room name {room!r} is not safe in an object key")
    if not re.fullmatch(r"[0-9a-f]{8}", nonce):
        raise ValueError("nonce must be 8 lowercase hex digits")
    ext = RECORDING_EXTENSIONS.get(content_type)
    if ext is None:
        raise ValueError(f"unknown recording content type {content_type!r}")
    return f"recordings/{room}/{started_at.astimezone(UTC):{_STAMP}}-{nonce}{ext}"


@dataclass(frozen=True)
class RecordingKey:
    """The parts of a recording's object key."""

    room: str
    started_at: datetime
    extension: str


def parse_recording_key(key: object) -> RecordingKey | None:
    """The parts of an object key built by ``recording_key``, or None for any other string."""
    if not isinstance(key, str):
        return None
    m = _RECORDING_KEY.fullmatch(key)
    if m is None:
        return None
    try:
        started = datetime.strptime(m.group("stamp"), _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return RecordingKey(room=m.group("room"), started_at=started, extension=m.group("ext"))


def is_recording_key_for(key: object, room: str, content_type: object) -> bool:
    """Whether ``key`` is the kind of key the platform builds for this room's recording of that content type."""
    parsed = parse_recording_key(key)
    return (
        parsed is not None
        and parsed.room == room
        and isinstance(content_type, str)
        and RECORDING_EXTENSIONS.get(content_type) == parsed.extension
    )
