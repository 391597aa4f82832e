"""The forwarding path without sockets: fake transports record what would go on the wire."""

from __future__ import annotations

import struct
from typing import Any, cast

from aiortc import RTCPeerConnection

from webrtc import internals, rtp
from webrtc.forward import (
    Binding,
    Codec,
    Counters,
    OutSlot,
    PublisherDemux,
    SourceTrack,
    SubscriberDemux,
    Transport,
)


class FakeTransport:
    """Stands in for forward.Transport: protect is the identity, sendto records."""

    def __init__(self) -> None:
        self.ready = True
        self.addr = ("127.0.0.1", 9)
        self.sent: list[bytes] = []
        self.rtcp: list[bytes] = []
        self.c_target = None  # no socket: the Python loop sends

    def protect(self, data: bytes) -> bytes:
        return data

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)

    def send_rtp(self, data: bytes) -> None:
        self.sent.append(data)

    def forward(self, b0: int, m_pt: int, seq: int, ts: int, ssrc: int, tail: bytes) -> bool:
        self.sent.append(rtp.RTP_HEADER.pack(b0, m_pt, seq, ts, ssrc) + tail)
        return True

    def send_rtcp(self, data: bytes) -> None:
        self.rtcp.append(data)


VP8 = Codec("video/VP8", 90000, None, (), 96)
KEY = b"\x10\x00\x9d\x01\x2a"
DELTA = b"\x10\x01\x00\x00"
CONT = b"\x00\x01\x00"


def _pkt(seq: int, ts: int, payload: bytes, ssrc: int = 1234, pt: int = 96) -> bytes:
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x30\x01\x02\x03"  # an abs-send-time-like extension to strip
    return struct.pack("!BBHII", 0x90, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + ext + payload


class _Slot:
    """OutSlot stand-in carrying only what Binding reads."""

    def __init__(self, ssrc: int, pt: int) -> None:
        self.ssrc = ssrc
        self.payload_type = pt
        self.last_seq: int | None = None
        self.last_ts: int | None = None
        self.cname = "c"
        self.binding = None


def _setup() -> tuple[SourceTrack, FakeTransport, list[tuple[Binding, FakeTransport]], Counters]:
    counters = Counters()
    pub = FakeTransport()
    track = SourceTrack(
        track_id="t1:0",
        owner="t1",
        kind="video",
        source="video",
        codec=VP8,
        ssrc=1234,
        mid="0",
        publisher=cast(Transport, pub),
        counters=counters,
    )
    subs = []
    for i, pt in ((1, 97), (2, 100)):
        tr = FakeTransport()
        b = Binding(track, cast(Transport, tr), cast(OutSlot, _Slot(0xA000 + i, pt)))
        b.active = True
        track.add_binding(b)
        subs.append((b, tr))
    return track, pub, subs, counters


def test_fanout_rewrites_per_subscriber_and_waits_for_keyframe() -> None:
    track, pub, subs, counters = _setup()
    demux = PublisherDemux(counters, by_ssrc={1234: track}, by_mid={"0": track})
    demux.on_rtp(_pkt(65534, 4294960000, DELTA))  # mid-GOP: nobody can decode this yet
    assert all(not tr.sent for _, tr in subs)
    assert len(pub.rtcp) == 1 and list(rtp.iter_rtcp(pub.rtcp[0]))[0].fmt == rtp.PSFB_PLI
    demux.on_rtp(_pkt(65535, 4294967000, KEY))
    demux.on_rtp(_pkt(0, 4294967000, CONT))  # sequence and timestamp wrap at the publisher
    demux.on_rtp(_pkt(1, 3000, DELTA))
    demux.on_rtp(_pkt(2, 3000, DELTA, pt=97))  # RTX payload type from the publisher: not forwarded
    for b, tr in subs:
        heads = [rtp.parse_rtp_header(p) for p in tr.sent]
        assert [h.ssrc for h in heads] == [b.ssrc] * 3
        assert [h.payload_type for h in heads] == [b.pt] * 3
        assert [(h.sequence - heads[0].sequence) & 0xFFFF for h in heads] == [0, 1, 2]
        assert [(h.timestamp - heads[0].timestamp) & 0xFFFFFFFF for h in heads] == [0, 0, 3296]
        assert all(h.extension_offset == -1 for h in heads)
        assert tr.sent[0][12:] == KEY
    assert counters.packets_in == 4 and counters.packets_out == 6


def test_nack_retransmits_rewritten_and_pli_is_throttled() -> None:
    track, pub, subs, counters = _setup()
    for i, payload in enumerate([KEY, CONT, DELTA, DELTA]):
        track.on_rtp(_pkt(100 + i, 9000 * i, payload), rtp.parse_rtp_header(_pkt(100 + i, 9000 * i, payload)))
    (b1, tr1), _ = subs
    lost = rtp.parse_rtp_header(tr1.sent[1])
    demux = SubscriberDemux(counters, by_ssrc={b1.ssrc: b1})
    before = len(tr1.sent)
    demux.on_rtcp(rtp.build_nack(0xFEED, b1.ssrc, [lost.sequence, (lost.sequence - 50) & 0xFFFF]))
    assert len(tr1.sent) == before + 1  # the packet before the binding started is not resent
    assert tr1.sent[-1] == tr1.sent[1]
    plis = len(pub.rtcp)
    for _ in range(5):
        demux.on_rtcp(rtp.build_pli(0xFEED, b1.ssrc))
    assert len(pub.rtcp) - plis <= 1
    assert counters.retransmits == 1


def test_sender_report_is_relayed_in_subscriber_numbering() -> None:
    track, _pub, subs, counters = _setup()
    track.on_rtp(_pkt(7, 5000, KEY), rtp.parse_rtp_header(_pkt(7, 5000, KEY)))
    demux = PublisherDemux(counters, by_ssrc={1234: track})
    demux.on_rtcp(rtp.build_sr(1234, 0xAABBCCDD00000000, 5000, 1, 5))
    for b, tr in subs:
        items = list(rtp.iter_rtcp(tr.rtcp[-1]))
        info = rtp.parse_sr(items[0].body)
        assert info.ssrc == b.ssrc and info.ntp == 0xAABBCCDD00000000
        assert info.rtp_timestamp == (5000 + b.ts_off) & 0xFFFFFFFF
        assert info.packet_count == 1
        assert items[1].packet_type == rtp.RTCP_SDES


def test_binding_continues_numbering_on_a_reused_slot() -> None:
    track, _pub, subs, _ = _setup()
    b, tr = subs[0]
    track.on_rtp(_pkt(10, 1000, KEY), rtp.parse_rtp_header(_pkt(10, 1000, KEY)))
    last = rtp.parse_rtp_header(tr.sent[-1])
    track.remove_binding(b)
    b2 = Binding(track, cast(Transport, tr), b.slot)
    b2.active = True
    track.add_binding(b2)
    track.on_rtp(_pkt(5000, 777777, KEY), rtp.parse_rtp_header(_pkt(5000, 777777, KEY)))
    nxt = rtp.parse_rtp_header(tr.sent[-1])
    assert nxt.sequence == (last.sequence + 1) & 0xFFFF and nxt.ssrc == last.ssrc


async def test_transport_hooks_replace_aiortc_handlers() -> None:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="sendonly")
    dtls = transceiver.sender.transport
    got: list[bytes] = []
    t = Transport(dtls, got.append, got.append, Counters())
    assert internals.srtp_handlers(dtls) == (t._rx_rtp, t._rx_rtcp) and not t.ready
    await pc.close()


async def test_fast_forwarder_output_decrypts_with_the_peer_key() -> None:
    import asyncio
    import os
    import socket

    from pylibsrtp import Policy, Session

    from webrtc.forward import _make_forwarder

    key = os.urandom(44)
    tx = Session(
        Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM)
    )
    rx = Session(
        Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM)
    )
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        forward = _make_forwarder(tx, transport._sock, transport, receiver.getsockname(), Counters())  # type: ignore[attr-defined]
        for seq in (65535, 0):
            assert forward(0x80, 0x80 | 97, seq, 123456, 0xABCDEF01, b"payload" * 100)
            plain = rx.unprotect(receiver.recv(2000))
            h = rtp.parse_rtp_header(plain)
            assert (h.sequence, h.timestamp, h.ssrc, h.payload_type, h.marker) == (
                seq,
                123456,
                0xABCDEF01,
                97,
                True,
            )
            assert plain[12:] == b"payload" * 100
        assert not forward(0x80, 97, 1, 1, 1, b"x" * 1490)  # would not fit the SRTP buffer
    finally:
        transport.close()
        receiver.close()


def test_publisher_loss_is_nacked_and_rtx_is_unwrapped() -> None:
    track, pub, subs, counters = _setup()
    track.rtx_ssrc, track.rtx_payload_type = 5678, 97
    demux = PublisherDemux(counters, by_ssrc={1234: track}, by_rtx_ssrc={5678: track})
    demux.on_rtp(_pkt(10, 0, KEY))
    demux.on_rtp(_pkt(13, 0, CONT))
    nack = [i for i in rtp.iter_rtcp(pub.rtcp[-1]) if i.packet_type == rtp.RTCP_RTPFB]
    assert sorted(rtp.parse_nack(nack[0].body)) == [11, 12]
    rtx = struct.pack("!BBHII", 0x80, 97, 500, 0, 5678) + struct.pack("!H", 11) + CONT
    demux.on_rtp(rtx)
    probe = struct.pack("!BBHII", 0xA0, 97, 501, 0, 5678) + b"\x00" * 9 + b"\x0a"  # padding only
    demux.on_rtp(probe)
    _, tr = subs[0]
    seqs = [rtp.parse_rtp_header(p).sequence for p in tr.sent]
    first = seqs[0]
    assert [(s - first) & 0xFFFF for s in seqs] == [0, 3, 1]
    assert tr.sent[-1][12:] == CONT and counters.rtx_in == 1
