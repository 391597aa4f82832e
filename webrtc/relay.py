"""The wire between an SFU coordinator and its relay workers (``workers.py`` is the coordinator's side,
``worker.py`` the worker's): one SFU spread over several processes, as mediasoup's ``pipeToRouter`` spreads a
room over workers.

Two channels per worker:

* **control** — the worker's stdin and stdout, one JSON object per line (:func:`line`, :func:`parse_line`).
  Coordinator → worker: ``track`` (a relayed track: its number, id, owner, kind, source, codec, SSRC),
  ``untrack``, ``join`` (a subscriber whose subscribe connection the worker holds, by session number
  ``sid``), ``want`` (the router's decision for that subscriber: track numbers), ``answer`` / ``candidate``
  (from the browser), ``leave``, ``stop``. Worker → coordinator: ``hello`` (its relay port), ``send`` (a
  signalling message for that subscriber's browser, already encoded), ``lost`` (its subscribe connection
  failed), ``metrics`` (the worker's ``/metrics`` document, every :data:`METRICS_EVERY_S`).
* **media** — UDP on loopback. Each datagram is :data:`HEADER` (kind, flags, track number) and a body:
  ``RTP`` (a decrypted publisher packet, extensions intact; flag :data:`MUTED` when the router holds that
  microphone back), ``SR`` (the publisher's sender report: NTP and RTP time, :data:`SR_BODY`), or, worker →
  coordinator, ``FEEDBACK`` (an RTCP NACK or PLI for the track, which the coordinator answers from its
  packet buffer or passes to the publisher).

The relay is plain RTP on the loopback interface between processes of one host; nothing here is exposed.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from .forward import Codec

HEADER = struct.Struct("!BBI")  # kind, flags, track number
SR_BODY = struct.Struct("!QI")  # NTP timestamp, RTP timestamp
RTP, SR, FEEDBACK = 0, 1, 2
MUTED = 0x01
METRICS_EVERY_S = 1.0
LINE_LIMIT = 16 * 2**20  # a subscribe offer with many m-lines is tens of KB; anything near this is a bug
RELAY_RCVBUF = 8 * 2**20  # the relay socket carries every relayed packet of the worker


def line(message: dict[str, Any]) -> bytes:
    """One control message as a line."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """A control line back as a message; None for anything that is not a JSON object with an ``op``."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        return None
    return message


def codec_to_json(codec: Codec) -> dict[str, Any]:
    """A codec for a ``track`` message."""
    return {
        "mime_type": codec.mime_type,
        "clock_rate": codec.clock_rate,
        "channels": codec.channels,
        "parameters": [list(kv) for kv in codec.parameters],
        "payload_type": codec.payload_type,
    }


def codec_from_json(data: dict[str, Any]) -> Codec:
    """The codec of a ``track`` message (ValueError when it is not one)."""
    try:
        return Codec(
            mime_type=str(data["mime_type"]),
            clock_rate=int(data["clock_rate"]),
            channels=None if data.get("channels") is None else int(data["channels"]),
            parameters=tuple((str(k), str(v)) for k, v in data.get("parameters") or []),
            payload_type=int(data["payload_type"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a codec: {exc}") from None
