"""What the SFU measures about itself and the JSON it serves at ``/metrics``.

:class:`ProcessMetrics` holds what the process measures over time (CPU and memory through psutil, uptime,
the worst event-loop lag since the last scrape, peer connections that timed out); the packet counters live
with the forwarding path (``forward.Counters``), the webhook backlog with the sender. :func:`snapshot`
gathers all of it into the ``/metrics`` document. Its keys and their order are a format that monitoring and
the load test (``loadtest.py``) read: add keys at the end, never rename one.

The same figures are served in the Prometheus text format (``GET /metrics`` with ``Accept: text/plain`` or
``?format=prometheus``) by :class:`SfuCollector`, read at scrape time from the plain counters (nothing is
added to the per-packet path). Every sample carries a ``worker`` label (``SfuConfig.worker_index``). With
``--workers K`` the coordinator's families also carry a row for each relay worker (its label, read from the
document the worker reports every second; the rows marked "w" below), so one scrape covers every process:

* ``ieum_sfu_worker_up`` (1 while running, 0 for a worker that died) and ``ieum_sfu_subscribers`` (w: the
  subscribe connections each process holds — how the load is spread);
* gauges ``ieum_sfu_rooms``, ``ieum_sfu_participants{role}``, ``ieum_sfu_tracks`` (w),
  ``ieum_sfu_peer_connections`` (w), ``ieum_sfu_subscriber_loss_ratio{stat="mean"|"max"}`` (fraction lost in
  subscribers' receiver reports), ``ieum_sfu_loop_lag_seconds`` (w; the latest 100 ms probe, a worker's worst
  in its last second), ``ieum_sfu_resident_memory_bytes`` (w), ``ieum_sfu_webhooks_pending``;
* counters (w, except SRTP errors, blocked sends and the consent counters) ``ieum_sfu_packets_in_total``,
  ``ieum_sfu_packets_out_total``, ``ieum_sfu_bytes_out_total``, ``ieum_sfu_rtcp_in_total``,
  ``ieum_sfu_rtcp_out_total``, ``ieum_sfu_nacks_in_total``, ``ieum_sfu_nacks_to_publishers_total``,
  ``ieum_sfu_retransmits_total``, ``ieum_sfu_plis_in_total``, ``ieum_sfu_plis_out_total``,
  ``ieum_sfu_srtp_errors_total``, ``ieum_sfu_handler_errors_total``, ``ieum_sfu_dropped_in_total``, ``ieum_sfu_send_blocked_total``,
  ``ieum_sfu_peer_timeouts_total``, ``ieum_sfu_consent_checks_total``, ``ieum_sfu_consent_answered_total``,
  ``ieum_sfu_consent_late_answers_total``, ``ieum_sfu_consent_expired_total``, ``ieum_sfu_cpu_seconds_total``;
* histogram ``ieum_sfu_loop_lag_probe_seconds`` (every 100 ms probe since start).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import TYPE_CHECKING, Any

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from . import consent

if TYPE_CHECKING:
    from .sfu import Sfu


LAG_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"))


class ProcessMetrics:
    """CPU, memory, uptime, event-loop lag and peer-connection timeouts of this SFU process."""

    def __init__(self) -> None:
        self.started_at = time.monotonic()
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # prime: the first call always reports 0
        self.loop_lag_max_s = 0.0
        self.loop_lag_last_s = 0.0
        self.lag_buckets = [0] * len(LAG_BUCKETS_S)  # probes at or under each bound (cumulative at collect)
        self.lag_count = 0
        self.lag_sum_s = 0.0
        self.gc_pause_max_s = 0.0  # the longest garbage collection since the last scrape
        self.gc_pauses_s = 0.0  # total time in garbage collection
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)
        self.timeouts = 0  # peer connections that failed or lost ICE consent (the client vanished)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            pause = time.perf_counter() - self._gc_started
            self.gc_pauses_s += pause
            self.gc_pause_max_s = max(self.gc_pause_max_s, pause)

    def take_gc_pause(self) -> float:
        """The longest garbage-collection pause since the previous call."""
        pause, self.gc_pause_max_s = self.gc_pause_max_s, 0.0
        return pause

    async def watch_lag(self) -> None:
        """Run forever, remembering the worst event-loop lag."""
        # Event-loop lag is what breaks ICE consent (0.5 s per check) and jitter; /metrics reports the max.
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            self.record_lag(max(0.0, time.monotonic() - t - 0.1))

    def record_lag(self, lag: float) -> None:
        """One probe of the event loop's lag."""
        self.loop_lag_max_s = max(self.loop_lag_max_s, lag)
        self.loop_lag_last_s = lag
        self.lag_count += 1
        self.lag_sum_s += lag
        for i, bound in enumerate(LAG_BUCKETS_S):
            if lag <= bound:
                self.lag_buckets[i] += 1
                break

    def take_lag(self) -> float:
        """The worst lag since the previous call (each scrape starts a new window)."""
        lag, self.loop_lag_max_s = self.loop_lag_max_s, 0.0
        return lag


def snapshot(sfu: Sfu) -> dict[str, Any]:
    """The JSON served at /metrics."""
    c = sfu.counters
    own = sfu.process_metrics
    cpu = own.process.cpu_times()
    tracks = sfu.tracks()
    expected_in = sum(t.stats.extended_max - t.stats.base_seq + 1 for t in tracks if t.stats.base_seq >= 0)
    return {
        "rooms": len(sfu.rooms),
        "participants": sum(len(r.participants) for r in sfu.rooms.values()),
        "tracks": len(tracks),
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
        "gc_pause_max_ms": round(own.take_gc_pause() * 1000, 1),
        "gc_seconds": round(own.gc_pauses_s, 3),
        "worker": sfu.config.worker_index,
        # the relay workers' own documents (``workers.py``), each with ``worker`` and ``alive``
        "workers": sfu.workers.snapshots(),
        "handler_errors": c.handler_errors,
        "udp_unrouted": sfu.udp.unrouted if sfu.udp is not None else 0,
    }


class SfuCollector(Collector):
    """The SFU's figures as Prometheus metric families, read from the live objects at scrape time."""

    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu

    def collect(self) -> Any:
        """Yield every family (see the module docstring for the names)."""
        sfu = self.sfu
        c = sfu.counters
        own = sfu.process_metrics
        worker = str(sfu.config.worker_index)
        labels = ["worker"]

        # The relay workers' latest documents (``--workers K``): their rows carry their own worker label.
        relayed = [(str(link.index), link.snapshot) for link in sfu.workers.links if link.snapshot]

        def rows(family: Any, value: float, key: str | None, scale: float = 1.0) -> Any:
            family.add_metric([worker], value)
            for index, doc in relayed:
                if key is not None and isinstance(doc.get(key), int | float):
                    family.add_metric([index], float(doc[key]) * scale)
            return family

        def gauge(name: str, doc: str, value: float, key: str | None = None, scale: float = 1.0) -> Any:
            return rows(GaugeMetricFamily(f"ieum_sfu_{name}", doc, labels=labels), value, key, scale)

        def counter(name: str, doc: str, value: float, key: str | None = None) -> Any:
            return rows(CounterMetricFamily(f"ieum_sfu_{name}", doc, labels=labels), value, key)

        up = GaugeMetricFamily("ieum_sfu_worker_up", "1 while the SFU process is running.", labels=labels)
        up.add_metric([worker], 1)
        for link in sfu.workers.links:
            up.add_metric([str(link.index)], 1 if link.alive else 0)
        yield up

        rooms = list(sfu.rooms.values())
        yield gauge("rooms", "Rooms held (including empty ones kept for a reconnect).", len(rooms))
        by_role = GaugeMetricFamily(
            "ieum_sfu_participants", "Participants by role.", labels=["worker", "role"]
        )
        counts: dict[str, int] = {"teacher": 0, "student": 0}
        for room in rooms:
            for p in room.participants.values():
                role = "teacher" if p.is_teacher else "student"
                counts[role] += 1
        for role, n in counts.items():
            by_role.add_metric([worker, role], n)
        yield by_role
        held_here = sum(1 for room in rooms for p in room.participants.values() if p.worker is None)
        yield gauge(
            "subscribers",
            "Subscribe connections this process holds (its load: the workers hold the rest).",
            held_here,
            "participants",
        )
        tracks = sfu.tracks()
        yield gauge("tracks", "Published tracks (a worker's: those relayed to it).", len(tracks), "tracks")
        yield gauge(
            "peer_connections", "Open peer connections.", len(sfu.peer_connections), "peer_connections"
        )
        lost = [b.fraction_lost / 256 for t in tracks for b in t.bindings]
        loss = GaugeMetricFamily(
            "ieum_sfu_subscriber_loss_ratio",
            "Fraction lost in subscribers' latest receiver reports, over bindings.",
            labels=["worker", "stat"],
        )
        loss.add_metric([worker, "mean"], sum(lost) / len(lost) if lost else 0.0)
        loss.add_metric([worker, "max"], max(lost, default=0.0))
        yield loss
        yield gauge(
            "loop_lag_seconds",
            "Event-loop lag of the latest 100 ms probe (a worker's: the worst in its latest second).",
            own.loop_lag_last_s,
            "loop_lag_max_ms",
            0.001,
        )
        yield gauge(
            "resident_memory_bytes", "Resident memory of the process.", own.process.memory_info().rss, "rss"
        )
        yield gauge("webhooks_pending", "Webhooks waiting to be delivered to the app.", sfu.webhooks.pending)
        families: list[tuple[str, str, float, str | None]] = [
            ("packets_in_total", "RTP packets received from publishers.", c.packets_in, "packets_in"),
            ("packets_out_total", "RTP packets forwarded to subscribers.", c.packets_out, "packets_out"),
            ("bytes_out_total", "RTP bytes forwarded (before SRTP).", c.bytes_out, "bytes_out"),
            ("rtcp_in_total", "RTCP packets received.", c.rtcp_in, "rtcp_in"),
            ("rtcp_out_total", "RTCP packets sent.", c.rtcp_out, "rtcp_out"),
            ("nacks_in_total", "NACKs received from subscribers.", c.nacks, "nacks"),
            ("nacks_to_publishers_total", "NACKs sent to publishers.", c.nacks_out, "nacks_to_publishers"),
            ("retransmits_total", "Packets resent from the NACK buffer.", c.retransmits, "retransmits"),
            ("plis_in_total", "Key-frame requests from subscribers.", c.plis_in, "plis_in"),
            ("plis_out_total", "Key-frame requests sent to publishers.", c.plis_out, "plis_out"),
            ("srtp_errors_total", "Packets SRTP could not protect.", c.srtp_errors, None),
            (
                "handler_errors_total",
                "Incoming packets whose handling raised (logged; the connection carries on).",
                c.handler_errors,
                "handler_errors",
            ),
            ("dropped_in_total", "Publisher packets not forwarded.", c.dropped_in, "dropped_in"),
            (
                "send_blocked_total",
                "Packets dropped because a subscriber's socket buffer was full.",
                c.send_blocked,
                None,
            ),
            (
                "peer_timeouts_total",
                "Peer connections that failed or lost ICE consent.",
                own.timeouts,
                "timeouts",
            ),
            ("consent_checks_total", "ICE consent checks sent.", consent.STATS.checks, None),
            ("consent_answered_total", "ICE consent checks answered.", consent.STATS.answered, None),
            (
                "consent_late_answers_total",
                "Consent answers after a retransmission.",
                consent.STATS.retransmitted_answers,
                None,
            ),
            (
                "consent_expired_total",
                "Connections closed because consent expired.",
                consent.STATS.expired,
                None,
            ),
        ]
        for name, doc, value, key in families:
            yield counter(name, doc, value, key)
        cpu = own.process.cpu_times()
        yield counter(
            "cpu_seconds_total", "CPU seconds used by the process.", cpu.user + cpu.system, "cpu_seconds"
        )
        hist = HistogramMetricFamily(
            "ieum_sfu_loop_lag_probe_seconds", "Event-loop lag of each 100 ms probe.", labels=labels
        )
        cumulative, buckets = 0, []
        for bound, n in zip(LAG_BUCKETS_S, own.lag_buckets, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
        hist.add_metric([worker], buckets, sum_value=own.lag_sum_s)
        yield hist


def registry(sfu: Sfu) -> CollectorRegistry:
    """A registry of its own for one SFU (tests run many in one process; never the global default)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SfuCollector(sfu))
    return reg
