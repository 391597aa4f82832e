"""ICE: which local addresses aioice offers, the announced public address, and TURN REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import TypedDict

from . import internals

_HOST_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$", re.MULTILINE)


def restrict_host_addresses(addresses: list[str]) -> None:
    """Make aioice gather host candidates only on these addresses (e.g. 127.0.0.1 for tests).

    aioice reads the interface list from a module function and skips loopback; replacing that function is
    its only knob (``internals.set_host_addresses``), so this is process-wide: call it once at start-up,
    before any peer connection exists.
    """
    fixed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    internals.set_host_addresses(get_host_addresses)


def announce(sdp: str, public_ip: str | None) -> str:
    """Rewrite host candidates to the public IP of a 1:1 NAT (``LMS_SFU_PUBLIC_IP``); no-op without one."""
    if not public_ip:
        return sdp
    return _HOST_CANDIDATE.sub(lambda m: m.group(1) + public_ip + m.group(3), sdp)


class TurnCredentials(TypedDict):
    """A TURN username, its password and how long they are valid."""

    username: str
    credential: str
    ttl: int


def turn_credentials(
    secret: str, user_id: str, ttl_s: int = 3600, now: float | None = None
) -> TurnCredentials:
    """Time-limited TURN credentials for coturn's ``use-auth-secret`` (TURN REST API draft)."""
    expiry = int(time.time() if now is None else now) + ttl_s
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode(), "ttl": ttl_s}
