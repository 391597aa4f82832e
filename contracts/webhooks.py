"""Webhooks (SFU → app): the event types, the body, and the HMAC signature over it.

Wire format: a JSON body ``{"id", "type", "room", "user", "at" (ISO-8601 UTC), "data"}`` POSTed with the
headers ``X-Ieum-Event-Id``, ``X-Ieum-Timestamp`` (epoch seconds) and ``X-Ieum-Signature``
(``sha256=`` + hex HMAC-SHA256 over ``"{timestamp}.{body}"`` with the shared secret).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import time
import uuid
from typing import Any

EVENT_ID_HEADER = "X-Ieum-Event-Id"
TIMESTAMP_HEADER = "X-Ieum-Timestamp"
SIGNATURE_HEADER = "X-Ieum-Signature"
SIGNATURE_TOLERANCE_S = 300
MAX_CHAT_CHARS = 2000  # the SFU cuts longer chat messages; the app refuses longer ones


class EventType(enum.StrEnum):
    """What an SFU webhook reports."""

    participant_joined = "participant.joined"
    participant_left = "participant.left"
    stage_on = "stage.on"
    stage_off = "stage.off"
    publish_started = "publish.started"
    publish_stopped = "publish.stopped"
    hand_raised = "hand.raised"
    hand_lowered = "hand.lowered"
    chat_message = "chat.message"
    speaking_started = "speaking.started"
    speaking_stopped = "speaking.stopped"
    recording_finished = "recording.finished"


_EVENT_VALUES = frozenset(e.value for e in EventType)


def parse_event_type(value: object) -> EventType | None:
    """The event type named by an untrusted value, or None."""
    return EventType(value) if isinstance(value, str) and value in _EVENT_VALUES else None


def sign_webhook(secret: str, body: bytes, timestamp: int | str) -> str:
    """The ``X-Ieum-Signature`` value: ``sha256=`` + hex HMAC-SHA256 over ``"{timestamp}.{body}"``."""
    message = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: int | str,
    *,
    now: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """Check a webhook's signature (constant time) and refuse timestamps outside the tolerance."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    t = time.time() if now is None else now
    if abs(t - ts) > tolerance_s:
        return False
    expected = sign_webhook(secret, body, ts)
    return hmac.compare_digest(expected.encode(), str(signature).encode())


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The HTTP headers of one delivery of a webhook body."""
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_webhook(secret, body, timestamp),
    }


def make_event(
    event_type: EventType | str, room: str, user: str, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A webhook body with a fresh event id and an ISO-8601 UTC time."""
    if not isinstance(event_type, str) or event_type not in _EVENT_VALUES:
        raise ValueError(f"unknown event type {event_type!r}")
    return {
        "id": str(uuid.uuid4()),
        "type": str(event_type),
        "room": room,
        "user": user,
        "at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": data or {},
    }
