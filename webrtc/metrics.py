"""What the SFU measures about itself and the JSON it serves at ``/metrics``.

:class:`ProcessMetrics` holds what the process measures over time (CPU and memory through psutil, uptime,
the worst event-loop lag since the last scrape, peer connections that timed out); the packet counters live
with the forwarding path (``forward.Counters``), the webhook backlog with the sender. :func:`snapshot`
gathers all of it into the ``/metrics`` document. Its keys and their order are a format that monitoring and
the load test (``loadtest.py``) read: add keys at the end, never rename one.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from .sfu import Sfu


class ProcessMetrics:
    """CPU, memory, uptime, event-loop lag and peer-connection timeouts of this SFU process."""

    def __init__(self) -> None:
        self.started_at = time.monotonic()
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # prime: the first call always reports 0
        self.loop_lag_max_s = 0.0
        self.timeouts = 0  # peer connections that failed or lost ICE consent (the client vanished)

    async def watch_lag(self) -> None:
        """Run forever, remembering the worst event-loop lag."""
        # Event-loop lag is what breaks ICE consent (0.5 s per check) and jitter; /metrics reports the max.
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            self.loop_lag_max_s = max(self.loop_lag_max_s, time.monotonic() - t - 0.1)

    def take_lag(self) -> float:
        """The worst lag since the previous call (each scrape starts a new window)."""
        lag, self.loop_lag_max_s = self.loop_lag_max_s, 0.0
        return lag


def snapshot(sfu: Sfu) -> dict[str, Any]:
    """The JSON served at /metrics."""
    c = sfu.counters
    own = sfu.process_metrics
    cpu = own.process.cpu_times()
    tracks = [t for r in sfu.rooms.values() for t in r.tracks()]
    expected_in = sum(t.stats.extended_max - t.stats.base_seq + 1 for t in tracks if t.stats.base_seq >= 0)
    return {
        "rooms": len(sfu.rooms),
        "participants": sum(len(r.participants) for r in sfu.rooms.values()),
        "tracks": sum(len(r.tracks()) for r in sfu.rooms.values()),
        "peer_connections": len(sfu.peer_connections),
        "packets_in": c.packets_in,
        # publisher → SFU loss, from the sequence numbers of the live tracks
        "packets_in_expected": expected_in,
        "packets_in_received": sum(t.stats.received for t in tracks),
        "dropped_in": c.dropped_in,
        "packets_out": c.packets_out,
        "bytes_out": c.bytes_out,
        "rtcp_in": c.rtcp_in,
        "rtcp_out": c.rtcp_out,
        "nacks": c.nacks,
        "nacks_to_publishers": c.nacks_out,
        "rtx_in": c.rtx_in,
        "retransmits": c.retransmits,
        "plis_in": c.plis_in,
        "plis_out": c.plis_out,
        "timeouts": own.timeouts,
        "webhooks_pending": sfu.webhooks.pending,
        "webhooks_delivered": sfu.webhooks.delivered,
        "cpu": own.process.cpu_percent(None),
        "cpu_seconds": cpu.user + cpu.system,
        "rss": (rss := own.process.memory_info().rss),
        "rss_mb": round(rss / 2**20, 1),
        "pid": own.process.pid,
        "uptime_s": round(time.monotonic() - own.started_at, 1),
        "loop_lag_max_ms": round(own.take_lag() * 1000, 1),
    }
