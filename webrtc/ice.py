"""ICE host-candidate policy: which local addresses aioice offers, and the announced public address."""

from __future__ import annotations

import re

import aioice.ice

_HOST_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$", re.MULTILINE)


def restrict_host_addresses(addresses: list[str]) -> None:
    """Make aioice gather host candidates only on these addresses (e.g. 127.0.0.1 for tests).

    aioice reads the interface list from a module function and skips loopback; replacing that function is
    its only knob, so this is process-wide: call it once at start-up, before any peer connection exists.
    """
    fixed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


def announce(sdp: str, public_ip: str | None) -> str:
    """Rewrite host candidates to the public IP of a 1:1 NAT (``LMS_SFU_PUBLIC_IP``); no-op without one."""
    if not public_ip:
        return sdp
    return _HOST_CANDIDATE.sub(lambda m: m.group(1) + public_ip + m.group(3), sdp)
