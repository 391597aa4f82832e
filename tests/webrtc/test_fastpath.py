"""The C fan-out (webrtc/fanout.c) on real sockets and real SRTP sessions: what each subscriber decrypts is
what the Python loop would have sent it."""

from __future__ import annotations

import os
import shutil
import socket
import struct
from typing import Any, cast

import pytest
from pylibsrtp import Policy, Session

from webrtc import fastpath, rtp
from webrtc.forward import Binding, Codec, Counters, OutSlot, SourceTrack, Transport

VP8 = Codec("video/VP8", 90000, None, (), 96)
KEY = b"\x10\x00\x9d\x01\x2a" + bytes(range(200)) * 5
DELTA = b"\x10\x01\x00\x00" + os.urandom(700)


@pytest.fixture(scope="module")
def fast() -> fastpath.FastPath:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the SFU forwards in Python")
    return fastpath.FastPath(fastpath.build())


class _Subscriber:
    """A subscriber transport whose packets the C loop sends; the test decrypts what arrives."""

    def __init__(self, fast: fastpath.FastPath) -> None:
        key = os.urandom(30)
        self.tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        self.rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
        self.sock_in = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock_in.bind(("127.0.0.1", 0))
        self.sock_in.settimeout(1.0)
        self.sock_out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ready = True
        self.addr = self.sock_in.getsockname()
        self.c_target: fastpath.CTarget | None = fastpath.CTarget(fast, self.tx, self.sock_out, self.addr)
        self.rtcp: list[bytes] = []

    def forward(self, b0: int, m_pt: int, seq: int, ts: int, ssrc: int, tail: bytes) -> bool:
        # The Python path (the packet a binding starts with): same wire format, same session.
        self.sock_out.sendto(self.tx.protect(rtp.RTP_HEADER.pack(b0, m_pt, seq, ts, ssrc) + tail), self.addr)
        return True

    def send_rtcp(self, data: bytes) -> None:
        self.rtcp.append(data)

    def received(self) -> list[bytes]:
        out = []
        self.sock_in.setblocking(False)
        try:
            while True:
                out.append(self.rx.unprotect(self.sock_in.recv(2048)))
        except BlockingIOError:
            pass
        return out

    def close(self) -> None:
        if self.c_target is not None:
            self.c_target.close()
        self.sock_in.close()
        self.sock_out.close()


class _Slot:
    def __init__(self, ssrc: int, pt: int) -> None:
        self.ssrc = ssrc
        self.payload_type = pt
        self.last_seq: int | None = None
        self.last_ts: int | None = None
        self.cname = "c"


def _pkt(seq: int, ts: int, payload: bytes) -> bytes:
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x30\x01\x02\x03"
    return struct.pack("!BBHII", 0x90, 96, seq & 0xFFFF, ts & 0xFFFFFFFF, 1234) + ext + payload


def _track(
    fast: fastpath.FastPath, n: int
) -> tuple[SourceTrack, list[tuple[Binding, _Subscriber]], Counters]:
    counters = Counters()
    track = SourceTrack(
        track_id="t:0",
        owner="t",
        kind="video",
        source="video",
        codec=VP8,
        ssrc=1234,
        mid="0",
        publisher=cast(Transport, _Subscriber(fast)),
        counters=counters,
    )
    assert track.table is not None, "the compiled library loads"
    subs = []
    for i in range(n):
        sub = _Subscriber(fast)
        b = Binding(track, cast(Transport, sub), cast(OutSlot, _Slot(0xB000 + i, 100 + i)))
        track.add_binding(b)
        subs.append((b, sub))
    return track, subs, counters


def _send(track: SourceTrack, seq: int, ts: int, payload: bytes) -> None:
    data = _pkt(seq, ts, payload)
    track.on_rtp(data, rtp.parse_rtp_header(data))


def test_c_fanout_sends_what_python_would(fast: fastpath.FastPath) -> None:
    track, subs, counters = _track(fast, 3)
    _send(track, 65534, 4294960000, DELTA)  # mid-GOP: nobody starts
    assert all(not s.received() for _, s in subs) and len(track.table or []) == 0
    _send(track, 65535, 4294967000, KEY)  # every binding starts here (Python), then moves to C
    assert len(track.table or []) == 3 and not track.slow
    _send(track, 0, 4294967000, DELTA)  # sequence and timestamp wrap at the publisher
    _send(track, 1, 3000, DELTA)
    for b, s in subs:
        got = s.received()
        heads = [rtp.parse_rtp_header(p) for p in got]
        assert [h.ssrc for h in heads] == [b.ssrc] * 3
        assert [h.payload_type for h in heads] == [b.pt] * 3
        assert [(h.sequence - heads[0].sequence) & 0xFFFF for h in heads] == [0, 1, 2]
        assert [(h.timestamp - heads[0].timestamp) & 0xFFFFFFFF for h in heads] == [0, 0, 3296]
        assert [p[12:] for p in got] == [KEY, DELTA, DELTA]
    assert counters.packets_out == 9 and counters.srtp_errors == 0
    for _, s in subs:
        s.close()


def test_removing_and_closing_subscribers_keeps_the_others(fast: fastpath.FastPath) -> None:
    track, subs, counters = _track(fast, 4)
    _send(track, 10, 0, KEY)
    for _, s in subs:
        s.received()
    track.remove_binding(subs[0][0])  # the last entry moves into its place
    cast(Any, subs[2][1]).c_target.close()  # transport closed: the C loop skips it
    _send(track, 11, 3000, DELTA)
    got = {b.ssrc: s.received() for b, s in subs}
    assert got[subs[0][0].ssrc] == [] and got[subs[2][0].ssrc] == []
    for i in (1, 3):
        b, _ = subs[i]
        assert len(got[b.ssrc]) == 1 and rtp.parse_rtp_header(got[b.ssrc][0]).ssrc == b.ssrc
    assert [o.fan_index for o in (track.table.owners if track.table else [])] == [0, 1, 2]
    assert counters.packets_out == 4 + 2
    for _, s in subs:
        s.close()


@pytest.mark.parametrize(
    ("addr", "family", "size"),
    [(("127.0.0.1", 5000), socket.AF_INET, 16), (("::1", 5000, 0, 0), socket.AF_INET6, 28)],
)
def test_sockaddr(addr: Any, family: int, size: int) -> None:
    raw = fastpath.sockaddr(addr)
    assert len(raw) == size
    assert struct.unpack_from("=H", raw)[0] == family
    assert struct.unpack_from("!H", raw, 2)[0] == 5000


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    fastpath.load.cache_clear()
    monkeypatch.setenv("LMS_SFU_FASTPATH", "0")
    try:
        assert fastpath.load() is None
    finally:
        fastpath.load.cache_clear()


async def _delivered_after_one_readiness(drain: bool) -> int:
    import asyncio

    from webrtc import internals

    loop = asyncio.get_running_loop()
    got: list[bytes] = []

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)

    transport, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    try:
        await asyncio.sleep(0)  # the transport registers its reader
        if drain:
            internals.drain_reads(cast(Any, transport), 64)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(20):
            sender.sendto(bytes([i]) * 100, transport.get_extra_info("sockname"))
        sender.close()
        # Two loop iterations (each sleep(0) lets the loop poll and run its ready callbacks once).
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return len(got)
    finally:
        transport.close()


def test_drain_reads_takes_every_queued_datagram_per_readiness() -> None:
    """asyncio reads one datagram per loop iteration; a drained publisher socket reads what is queued."""
    import asyncio

    assert asyncio.run(_delivered_after_one_readiness(drain=False)) <= 2
    assert asyncio.run(_delivered_after_one_readiness(drain=True)) == 20
