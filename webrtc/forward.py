"""The media forwarding path: aiortc does SDP, ICE and DTLS; from there on the SFU owns RTP and RTCP.

How the hook works: every peer connection the SFU creates has its bundled ``RTCDtlsTransport`` wrapped by a
:class:`Transport`, which replaces the handlers aiortc awaits right after SRTP decryption with our own, and
which sends by protecting with the transport's outgoing SRTP session and writing straight to the nominated
ICE pair's UDP socket. aiortc's ``RTCRtpSender.send`` / ``RTCRtpReceiver.receive`` are replaced per
instance (``peers.py``) so aiortc never encodes, decodes or emits RTCP of its own; the SDP it negotiated
still names the SSRCs and payload types we use. Each of those reaches into aiortc, aioice or pylibsrtp
internals through ``internals.py``, and only there.

Per incoming packet the header is parsed once, the extension block stripped once and the packet stored
in the track's NACK buffer; per subscriber only a 12-byte header is packed, then protected and sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pylibsrtp
from aiortc import RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport

from . import fastpath, internals, rtp
from .rtp import RTP_HEADER, PacketBuffer, PliThrottle, ReceptionStats

log = logging.getLogger(__name__)

_pack_header = RTP_HEADER.pack
_U32 = struct.Struct("!I")
# Publisher datagrams read per readiness of its socket (asyncio reads one per loop iteration). Measured at 400
# viewers on a 2-core machine: with 8 the socket still fell behind (the teacher was lost to consent once the
# backlog outgrew the 3.5 s of retransmitted checks); with 64 it was held, at the cost of loop stalls of up to
# ~2 s while a backlog is forwarded.
DRAIN_BATCH = 64


@dataclass(slots=True)
class Counters:
    """Process-wide packet counters for /metrics and the load test."""

    packets_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    rtcp_in: int = 0
    rtcp_out: int = 0
    nacks: int = 0
    nacks_out: int = 0
    retransmits: int = 0
    plis_in: int = 0
    plis_out: int = 0
    dropped_not_allowed: int = 0
    srtp_errors: int = 0
    handler_errors: int = 0  # incoming packets whose handling raised (logged; the transport carries on)
    rtx_in: int = 0
    send_blocked: int = 0  # a subscriber's socket buffer was full: dropped, as a congested link would
    dropped_in: int = 0  # publisher packets not forwarded (unknown SSRC, RTX/FEC payload types)


@dataclass(frozen=True, slots=True)
class Codec:
    """A negotiated codec as the forwarding path needs it."""

    mime_type: str
    clock_rate: int
    channels: int | None
    parameters: tuple[tuple[str, str], ...]
    payload_type: int

    @property
    def name(self) -> str:
        """The codec name without the media kind, e.g. ``VP8``."""
        return self.mime_type.split("/", 1)[1]


class Uplink(Protocol):
    """Where a track's feedback goes (NACKs for lost packets, key-frame requests): the publisher's transport,
    or in a relay worker (``worker.py``) the coordinator that relays the track."""

    def send_rtcp(self, packet: bytes) -> None:
        """Send one (compound) RTCP packet towards the track's source."""
        ...


# Python 3.11's datagram transport, once closed, has no socket but still accepts ``sendto`` on an unconnected
# socket and fails inside with AttributeError (``None.sendto``, then ``None.call_exception_handler``). A
# subscriber's ICE socket closes (consent expired) a moment before its DTLS state says so; sends meanwhile
# must fail like any send to a gone peer.
_CLOSED_SEND = AttributeError


class Transport:
    """One SFU-side bundled DTLS transport: receives decrypted RTP/RTCP, sends protected RTP/RTCP."""

    def __init__(
        self,
        dtls: RTCDtlsTransport,
        on_rtp: Callable[[bytes], None],
        on_rtcp: Callable[[bytes], None],
        counters: Counters,
        *,
        receive_buffer: int = 0,
    ) -> None:
        self.dtls = dtls
        self.receive_buffer = receive_buffer
        self.on_rtp = on_rtp
        self.on_rtcp = on_rtcp
        self.counters = counters
        self.ready = False
        self.closed = False
        self.protect: Callable[[bytes], bytes] = _not_ready
        self.protect_rtcp: Callable[[bytes], bytes] = _not_ready
        self.sendto: Callable[[bytes, Any], None] = _drop
        self.addr: Any = None
        # The C fan-out's view of this transport (plain UDP only; None without the compiled library).
        self.c_target: fastpath.CTarget | None = None
        # forward(b0, marker|pt, seq, ts, ssrc, tail): the per-subscriber hot path, built once DTLS is up.
        self.forward: Callable[[int, int, int, int, int, bytes], bool] = _not_forwarded
        self.on_ready: list[Callable[[], None]] = []
        # aiortc awaits these per decrypted packet; replacing them on the instance is the lowest point
        # after SRTP where packets are already demultiplexed from DTLS and STUN.
        internals.hook_srtp_handlers(dtls, self._rx_rtp, self._rx_rtcp)
        internals.on_dtls_state(dtls, self._on_state)
        if dtls.state == "connected":
            self._on_state()

    # aiortc awaits these inside its DTLS transport's receive loop, and an exception escaping them ends that
    # loop and closes the transport. On a publisher's transport every packet fans out to every subscriber, so
    # nothing a subscriber's state does (a socket closed a moment before its DTLS state says so) may escape:
    # the publisher — the teacher — would be disconnected by one viewer leaving. Errors are counted and logged.
    async def _rx_rtp(self, data: bytes, arrival_time_ms: int = 0) -> None:
        try:
            self.on_rtp(data)
        except Exception:
            self._handler_failed("RTP")

    async def _rx_rtcp(self, data: bytes) -> None:
        self.counters.rtcp_in += 1
        try:
            self.on_rtcp(data)
        except Exception:
            self._handler_failed("RTCP")

    def _handler_failed(self, what: str) -> None:
        self.counters.handler_errors += 1
        if self.counters.handler_errors <= 10 or self.counters.handler_errors % 1000 == 0:
            log.exception(
                "handling an incoming %s packet failed (%d so far)", what, self.counters.handler_errors
            )

    def _on_state(self) -> None:
        state = self.dtls.state
        if state == "connected" and not self.ready:
            if self._bind_socket():
                self.ready = True
                for callback in self.on_ready:
                    callback()
        elif state in ("closed", "failed"):
            self.ready = False
            self.closed = True
            self.sendto = _drop
            self.forward = _not_forwarded
            if self.c_target is not None:
                self.c_target.close()

    def _bind_socket(self) -> bool:
        tx = internals.dtls_tx_srtp(self.dtls)
        pair = internals.nominated_pair(internals.ice_connection(self.dtls))
        if tx is None or pair is None:
            return False
        protocol, remote_addr = internals.pair_route(pair)
        sock_transport = internals.protocol_transport(protocol)
        raw_sock = internals.raw_socket(sock_transport)
        if self.receive_buffer and raw_sock is not None:
            # A publisher's socket carries what every subscriber will get; when the event loop is briefly
            # busy (a burst of fan-out, a GC pause) the default ~200 KB buffer overflows and all lose it.
            with contextlib.suppress(OSError):
                raw_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        if self.receive_buffer and internals.is_plain_udp(protocol) and sock_transport is not None:
            try:
                internals.drain_reads(sock_transport, DRAIN_BATCH)
            except internals.InternalsChanged as exc:
                log.warning("publisher socket read one datagram per loop iteration: %s", exc)
        if internals.is_plain_udp(protocol) and sock_transport is not None:
            # Plain UDP: write to the asyncio transport directly, skipping two coroutine layers per packet.
            self.sendto = sock_transport.sendto
            if raw_sock is not None:
                self.forward = _make_forwarder(tx, raw_sock, sock_transport, remote_addr, self.counters)
                fast = fastpath.load()
                if fast is not None:
                    self.c_target = fastpath.CTarget(fast, tx, raw_sock, remote_addr)
        else:
            # TURN-relayed local candidates need aioice's framing; rare on a server, so the slow path is fine.
            self.sendto = internals.ice_sender(protocol)
        self.addr = remote_addr
        if self.forward is _not_forwarded:
            self.forward = _make_slow_forwarder(tx.protect, self.sendto, self.addr)
        self.protect = tx.protect
        self.protect_rtcp = tx.protect_rtcp
        return True

    def send_rtp(self, packet: bytes) -> None:
        """Protect and send one RTP packet (no-op until DTLS is up)."""
        if not self.ready:
            return
        try:
            self.sendto(self.protect(packet), self.addr)
        except (pylibsrtp.Error, OSError, _CLOSED_SEND) as exc:
            log.debug("send_rtp failed: %s", exc)

    def send_rtcp(self, packet: bytes) -> None:
        """Protect and send one (compound) RTCP packet."""
        if not self.ready:
            return
        try:
            self.sendto(self.protect_rtcp(packet), self.addr)
            self.counters.rtcp_out += 1
        except (pylibsrtp.Error, OSError, _CLOSED_SEND) as exc:
            log.debug("send_rtcp failed: %s", exc)


def _make_forwarder(
    tx: pylibsrtp.Session,
    sock: socket.socket,
    fallback: asyncio.DatagramTransport,
    addr: Any,
    counters: Counters,
) -> Callable[[int, int, int, int, int, bytes], bool]:
    """The per-packet send for one subscriber: header written and payload copied straight into libsrtp's
    buffer, protected in place, sent from that buffer with one syscall.

    This skips pylibsrtp's wrapper (type checks, an int* allocation and two copies per call) and asyncio's
    ``sendto`` bookkeeping; together they were about a third of the SFU's CPU per forwarded packet. It relies
    on pylibsrtp 1.x internals (``internals.srtp_internals``), so any mismatch falls back to the public API.
    """
    try:
        raw = internals.srtp_internals(tx)
        srtp = raw.srtp
        cdata = raw.cdata
        buf = raw.buffer
        capacity = len(buf) - 16  # room for the SRTP auth tag / AEAD trailer
        view = memoryview(buf)
    except (AttributeError, TypeError):  # internals.InternalsChanged is an AttributeError
        return _make_slow_forwarder(tx.protect, fallback.sendto, addr)
    len_p = raw.ffi.new("int *")
    protect = raw.protect
    pack_into = RTP_HEADER.pack_into
    sendto = sock.sendto

    # ``session`` is unused in the body but must stay referenced: libsrtp's context is freed with it.
    def forward(
        b0: int, m_pt: int, seq: int, ts: int, ssrc: int, tail: bytes, session: pylibsrtp.Session = tx
    ) -> bool:
        n = 12 + len(tail)
        if n > capacity:
            return False
        pack_into(buf, 0, b0, m_pt, seq, ts, ssrc)
        buf[12:n] = tail
        len_p[0] = n
        if protect(srtp, cdata, len_p):
            counters.srtp_errors += 1
            return False
        try:
            sendto(view[: len_p[0]], addr)
        except BlockingIOError:
            # Socket buffer full: let asyncio queue it (it copies) rather than drop.
            try:
                fallback.sendto(bytes(view[: len_p[0]]), addr)
            except _CLOSED_SEND:
                return False
        except OSError:
            return False
        return True

    return forward


def _make_slow_forwarder(
    protect: Callable[[bytes], bytes], sendto: Callable[[bytes, Any], None], addr: Any
) -> Callable[[int, int, int, int, int, bytes], bool]:
    def forward(b0: int, m_pt: int, seq: int, ts: int, ssrc: int, tail: bytes) -> bool:
        try:
            sendto(protect(_pack_header(b0, m_pt, seq, ts, ssrc) + tail), addr)
        except (pylibsrtp.Error, OSError, _CLOSED_SEND):
            return False
        return True

    return forward


def _not_forwarded(b0: int, m_pt: int, seq: int, ts: int, ssrc: int, tail: bytes) -> bool:
    return False


def _not_ready(data: bytes) -> bytes:
    raise pylibsrtp.Error("transport not ready")


def _drop(data: bytes, addr: Any) -> None:
    return None


class OutSlot:
    """One sendonly m-line towards a subscriber; reused for another source of the same kind and codec."""

    __slots__ = (
        "transceiver",
        "kind",
        "codec",
        "ssrc",
        "payload_type",
        "binding",
        "last_seq",
        "last_ts",
        "cname",
    )

    def __init__(self, transceiver: RTCRtpTransceiver, kind: str, codec: Codec, cname: str) -> None:
        self.transceiver = transceiver
        self.kind = kind
        self.codec = codec
        self.ssrc: int = internals.sender_ssrc(transceiver.sender)
        self.payload_type = -1  # known once the offer is created
        self.binding: Binding | None = None
        self.last_seq: int | None = None
        self.last_ts: int | None = None
        self.cname = cname

    @property
    def mid(self) -> str | None:
        """The m-line's mid, once negotiated."""
        return self.transceiver.mid


class Binding:
    """A source track forwarded to one subscriber slot: the per-subscriber rewrite state."""

    __slots__ = (
        "track",
        "transport",
        "slot",
        "ssrc",
        "pt",
        "seq_off",
        "ts_off",
        "first_seq",
        "start_packets",
        "start_octets",
        "active",
        "fraction_lost",
        "fan_index",
        "fan_target",
    )

    def __init__(self, track: SourceTrack, transport: Transport, slot: OutSlot) -> None:
        self.track = track
        self.transport = transport
        self.slot = slot
        self.ssrc = slot.ssrc
        self.pt = slot.payload_type
        self.seq_off = -1  # -1: not started (waiting for the first packet / key frame)
        self.ts_off = 0
        self.first_seq = 0
        # SR counts are derived from the track's counters at start instead of being bumped per packet.
        self.start_packets = 0
        self.start_octets = 0
        self.active = False  # set once the subscriber answered the offer that carries this slot
        self.fraction_lost = 0
        self.fan_index = -1  # position in the track's C fan-out table, -1 when not in it
        self.fan_target: fastpath.CTarget | None = None

    def start(self, seq: int, ts: int) -> None:
        """Choose offsets so the subscriber sees one continuous stream on this SSRC."""
        slot = self.slot
        if slot.last_seq is None or slot.last_ts is None:
            self.seq_off = (random.getrandbits(15) - seq) & 0xFFFF
            self.ts_off = (random.getrandbits(31) - ts) & 0xFFFFFFFF
        else:
            # Continue where the previous source on this slot stopped; jump the clock a little forward.
            gap = self.track.codec.clock_rate // 10
            self.seq_off = (slot.last_seq + 1 - seq) & 0xFFFF
            self.ts_off = (slot.last_ts + gap - ts) & 0xFFFFFFFF
        self.first_seq = seq
        # The packet being started with is counted by the track already; include it.
        self.start_packets = self.track.packets_in - 1
        self.start_octets = self.track.octets_in - self.track.last_size

    def stop(self) -> None:
        """Remember the last numbers sent so a later source on the same slot continues them."""
        if self.seq_off >= 0:
            self.slot.last_seq = (self.track.stats.max_seq + self.seq_off) & 0xFFFF
            self.slot.last_ts = (self.track.last_ts + self.ts_off) & 0xFFFFFFFF
        self.active = False


class SourceTrack:
    """One published track (camera, microphone or screen) and everyone it is forwarded to."""

    def __init__(
        self,
        *,
        track_id: str,
        owner: str,
        kind: str,
        source: str,
        codec: Codec,
        ssrc: int | None,
        mid: str | None,
        publisher: Uplink,
        counters: Counters,
        owner_name: str = "",
        audio_level_id: int = 0,
        rtcp_ssrc: int = 0,
        rtx_ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        gallery: bool = False,
    ) -> None:
        self.id = track_id
        self.owner = owner
        self.owner_name = owner_name  # shown on subscribers' tiles (the ``tracks`` message)
        self.kind = kind
        self.source = source
        # A student's camera off stage: forwarded only to whoever has it on their gallery page (``router``).
        self.gallery = gallery
        self.codec = codec
        self.ssrc = ssrc
        self.mid = mid
        self.publisher = publisher
        self.counters = counters
        self.audio_level_id = audio_level_id
        self.rtcp_ssrc = rtcp_ssrc or random.getrandbits(32)
        self.rtx_ssrc = rtx_ssrc
        self.rtx_payload_type = rtx_payload_type
        # Within libsrtp's 1024-packet replay window, so re-protecting a NACKed sequence number still works.
        self.buffer: PacketBuffer[tuple[int, int, int, bytes]] = PacketBuffer(512 if kind == "video" else 128)
        self.stats = ReceptionStats(codec.clock_rate)
        self.pli = PliThrottle(1.0)
        self.bindings: list[Binding] = []
        # Started bindings on plain-UDP transports are sent to from C (``fastpath``); the rest — waiting for a
        # key frame, or behind a TURN relay — go through the Python loop in ``on_rtp``.
        fast = fastpath.load()
        self.table: fastpath.FanoutTable | None = fastpath.FanoutTable(fast) if fast is not None else None
        self.slow: list[Binding] = []
        self.muted = False
        self.last_ts = 0
        self.packets_in = 0
        self.octets_in = 0
        self.last_size = 0
        # Decrypted publisher packets, extensions intact, for in-process consumers (the recorder).
        self.taps: list[Callable[[bytes], None]] = []
        # The publisher's sender reports, for the same consumers (relay workers keep their subscribers' lip sync).
        self.sr_taps: list[Callable[[rtp.SenderInfo], None]] = []
        self.on_level: Callable[[int], None] | None = None
        self._is_video = kind == "video"
        self._codec_name = codec.name

    # --- incoming ------------------------------------------------------------------------------

    def on_rtp(self, data: bytes, header: rtp.RtpHeader) -> None:
        """Forward one decrypted packet from the publisher to every active binding."""
        seq = header.sequence
        ts = header.timestamp
        self.packets_in += 1
        self.counters.packets_in += 1
        stats = self.stats
        if stats.base_seq >= 0:
            gap = rtp.seq_diff(seq, stats.max_seq)
            if 1 < gap <= 64 and self.ssrc is not None:
                # Publisher → SFU loss hurts every subscriber at once: ask the publisher to resend.
                missing = [(stats.max_seq + i) & 0xFFFF for i in range(1, gap)]
                self.counters.nacks_out += 1
                self.publisher.send_rtcp(rtp.build_nack(self.rtcp_ssrc, self.ssrc, missing))
        stats.add(seq, ts, time.monotonic())
        if rtp.seq_diff(seq, self.stats.max_seq) >= 0:
            self.last_ts = ts
        if self.audio_level_id and self.on_level is not None:
            level = rtp.audio_level(data, header, self.audio_level_id)
            if level is not None:
                self.on_level(level)
        for tap in self.taps:
            tap(data)
        b0, tail = rtp.strip_extensions(data, header)
        marker = 0x80 if header.marker else 0
        self.buffer.put(seq, (b0, marker, ts, tail))
        if self.muted:
            return

        keyframe: bool | None = None
        size = len(tail)
        self.octets_in += size
        self.last_size = size
        sent = 0
        table = self.table
        started: list[Binding] | None = None
        # Bindings not (yet) in the C table; the loop body is the per-subscriber cost of the SFU in Python.
        for b in self.slow:
            seq_off = b.seq_off
            if seq_off < 0:
                if not b.transport.ready:
                    continue
                if self._is_video:
                    # A subscriber that starts mid-frame cannot decode until a key frame; wait for one.
                    if keyframe is None:
                        keyframe = rtp.is_keyframe(self._codec_name, data[header.payload_offset :])
                    if not keyframe:
                        self.request_keyframe()
                        continue
                b.start(seq, ts)
                seq_off = b.seq_off
                if table is not None and b.transport.c_target is not None:
                    started = started or []
                    started.append(b)
            if b.transport.forward(
                b0, marker | b.pt, (seq + seq_off) & 0xFFFF, (ts + b.ts_off) & 0xFFFFFFFF, b.ssrc, tail
            ):
                sent += 1
        if table is not None:
            if table.owners:
                res = table.send(b0, marker, seq, ts, tail)
                sent += res.sent
                if res.srtp_errors:
                    self.counters.srtp_errors += res.srtp_errors
                if res.blocked:
                    self.counters.send_blocked += res.blocked
            if started:
                for b in started:  # from the next packet on, from C
                    if table.add(b):
                        self.slow.remove(b)
        self.counters.packets_out += sent
        self.counters.bytes_out += sent * (size + 12)

    def on_sender_report(self, info: rtp.SenderInfo) -> None:
        """Relay the publisher's SR to each subscriber in its own numbering (keeps lip sync and stats)."""
        self.stats.last_sr = (info.ntp >> 16) & 0xFFFFFFFF
        self.stats.last_sr_at = time.monotonic()
        for sr_tap in self.sr_taps:
            sr_tap(info)
        for b in self.bindings:
            if b.seq_off < 0 or not b.transport.ready:
                continue
            packet = rtp.build_sr(
                b.ssrc,
                info.ntp,
                info.rtp_timestamp + b.ts_off,
                self.packets_in - b.start_packets,
                self.octets_in - b.start_octets,
            )
            packet += rtp.build_sdes_cname(b.ssrc, b.slot.cname)
            b.transport.send_rtcp(packet)

    # --- feedback from subscribers -------------------------------------------------------------

    def retransmit(self, binding: Binding, sequences: list[int]) -> None:
        """Answer a subscriber's NACK from the packet buffer, rewritten for that subscriber."""
        if binding.seq_off < 0:
            return
        self.counters.nacks += 1
        tr = binding.transport
        for out_seq in sequences:
            seq = (out_seq - binding.seq_off) & 0xFFFF
            if rtp.seq_diff(seq, binding.first_seq) < 0:
                continue
            entry = self.buffer.get(seq)
            if entry is None:
                continue
            b0, marker, ts, tail = entry
            tr.send_rtp(
                _pack_header(
                    b0, marker | binding.pt, out_seq, (ts + binding.ts_off) & 0xFFFFFFFF, binding.ssrc
                )
                + tail
            )
            self.counters.retransmits += 1

    def request_keyframe(self) -> None:
        """Send a PLI to the publisher, at most once a second however many subscribers ask."""
        if not self._is_video or self.ssrc is None:
            return
        if self.pli.allow(time.monotonic()):
            self.counters.plis_out += 1
            self.publisher.send_rtcp(rtp.build_pli(self.rtcp_ssrc, self.ssrc))

    def receiver_report(self, remb_bps: int) -> bytes | None:
        """RR (+ REMB for video) to send to the publisher for this track."""
        if self.ssrc is None or self.stats.base_seq < 0:
            return None
        packet = rtp.build_rr(self.rtcp_ssrc, [self.stats.report_block(self.ssrc, time.monotonic())])
        if self._is_video and remb_bps:
            packet += rtp.build_remb(self.rtcp_ssrc, remb_bps, [self.ssrc])
        return packet

    # --- bindings ------------------------------------------------------------------------------

    def add_binding(self, binding: Binding) -> None:
        """Start forwarding to a subscriber slot (after it is negotiated and active)."""
        binding.active = True
        if binding not in self.bindings:
            self.bindings.append(binding)
            if self.table is None or not self.table.add(binding):
                self.slow.append(binding)

    def remove_binding(self, binding: Binding) -> None:
        """Stop forwarding to a subscriber slot."""
        binding.stop()
        if binding in self.bindings:
            self.bindings.remove(binding)
            if self.table is not None:
                self.table.remove(binding)
            if binding in self.slow:
                self.slow.remove(binding)

    def close(self) -> None:
        """Detach every subscriber."""
        for b in list(self.bindings):
            self.remove_binding(b)


@dataclass
class PublisherDemux:
    """Routes a publisher's decrypted packets to its tracks by SSRC (falling back to the mid extension)."""

    counters: Counters
    by_ssrc: dict[int, SourceTrack] = field(default_factory=dict)
    by_mid: dict[str, SourceTrack] = field(default_factory=dict)
    by_rtx_ssrc: dict[int, SourceTrack] = field(default_factory=dict)
    mid_ext_id: int = 0
    unknown: int = 0

    def on_rtp(self, data: bytes) -> None:
        """Entry point for RTP from the publisher's transport."""
        if len(data) < 12:
            return
        ssrc = _U32.unpack_from(data, 8)[0]
        track = self.by_ssrc.get(ssrc)
        try:
            header = rtp.parse_rtp_header(data)
        except ValueError:
            return
        if track is None and ssrc in self.by_rtx_ssrc:
            self._on_rtx(self.by_rtx_ssrc[ssrc], data, header)
            return
        if track is None:
            track = self._learn(data, header)
            if track is None:
                self.counters.dropped_in += 1
                return
        if header.payload_type != track.codec.payload_type:
            self.counters.dropped_in += 1
            return  # RTX, FEC or padding probes: not forwarded (subscribers get plain retransmissions)
        track.on_rtp(data, header)

    def _on_rtx(self, track: SourceTrack, data: bytes, header: rtp.RtpHeader) -> None:
        # RFC 4588: the payload starts with the original sequence number; rebuild the original packet.
        if track.ssrc is None or header.payload_type != track.rtx_payload_type:
            self.counters.dropped_in += 1
            return
        end = rtp.payload_end(data, header)
        if end - header.payload_offset < 3:  # padding-only bandwidth probe
            return
        osn = (data[header.payload_offset] << 8) | data[header.payload_offset + 1]
        original = (
            RTP_HEADER.pack(
                data[0] & 0xDF, (data[1] & 0x80) | track.codec.payload_type, osn, header.timestamp, track.ssrc
            )
            + data[12 : header.payload_offset]
            + data[header.payload_offset + 2 : end]
        )
        self.counters.rtx_in += 1
        track.on_rtp(original, rtp.parse_rtp_header(original))

    def _learn(self, data: bytes, header: rtp.RtpHeader) -> SourceTrack | None:
        # Browsers may omit a=ssrc lines; the RFC 8843 mid extension then names the m-line.
        track: SourceTrack | None = None
        if self.mid_ext_id and header.extension_offset >= 0:
            mid = rtp.one_byte_extension(data, header, self.mid_ext_id)
            if mid is not None:
                track = self.by_mid.get(mid.decode(errors="replace"))
        if track is None:
            candidates = [
                t
                for t in self.by_mid.values()
                if t.ssrc is None and t.codec.payload_type == header.payload_type
            ]
            if len(candidates) == 1:
                track = candidates[0]
        if track is None or (track.ssrc is not None and track.ssrc != header.ssrc):
            self.unknown += 1
            return None
        track.ssrc = header.ssrc
        self.by_ssrc[header.ssrc] = track
        return track

    def on_rtcp(self, data: bytes) -> None:
        """Entry point for RTCP from the publisher: sender reports are relayed, the rest ignored."""
        for item in rtp.iter_rtcp(data):
            if item.packet_type == rtp.RTCP_SR:
                try:
                    info = rtp.parse_sr(item.body)
                except ValueError:
                    continue
                track = self.by_ssrc.get(info.ssrc)
                if track is not None:
                    track.on_sender_report(info)


@dataclass
class SubscriberDemux:
    """Routes a subscriber's RTCP feedback (NACK, PLI, FIR, RR) to the bindings it names."""

    counters: Counters
    by_ssrc: dict[int, Binding] = field(default_factory=dict)

    def on_rtp(self, data: bytes) -> None:
        """Subscribers send no media on the subscribe connection; anything arriving is dropped."""
        return None

    def on_rtcp(self, data: bytes) -> None:
        """Entry point for RTCP from the subscriber."""
        for item in rtp.iter_rtcp(data):
            pt = item.packet_type
            try:
                if pt == rtp.RTCP_RTPFB and item.fmt == rtp.RTPFB_NACK:
                    _, media_ssrc = rtp.parse_feedback_ssrcs(item.body)
                    b = self.by_ssrc.get(media_ssrc)
                    if b is not None:
                        b.track.retransmit(b, rtp.parse_nack(item.body))
                elif pt == rtp.RTCP_PSFB and item.fmt == rtp.PSFB_PLI:
                    _, media_ssrc = rtp.parse_feedback_ssrcs(item.body)
                    b = self.by_ssrc.get(media_ssrc)
                    if b is not None:
                        self.counters.plis_in += 1
                        b.track.request_keyframe()
                elif pt == rtp.RTCP_PSFB and item.fmt == rtp.PSFB_FIR:
                    for ssrc in rtp.parse_fir_ssrcs(item.body):
                        b = self.by_ssrc.get(ssrc)
                        if b is not None:
                            self.counters.plis_in += 1
                            b.track.request_keyframe()
                elif pt in (rtp.RTCP_RR, rtp.RTCP_SR):
                    for block in rtp.parse_report_blocks(item):
                        b = self.by_ssrc.get(block.ssrc)
                        if b is not None:
                            b.fraction_lost = block.fraction_lost
            except (ValueError, struct.error):
                continue
