"""The teacher's connection survives a viewer's going away under it.

Found by the 1,000-viewer load test: a viewer's ICE consent expired, its SFU-side socket closed, and the
teacher's next sender report — relayed to every viewer from inside the teacher's DTLS receive loop — hit the
closed socket (Python 3.11 raises AttributeError there), the exception ended aiortc's receive loop and the
teacher's publish connection closed: every viewer lost the class at once.
"""

from __future__ import annotations

import asyncio

from aiortc import AudioStreamTrack
from av import VideoFrame
from sfu_helpers import RunningSfu, SmallVideoTrack, make_token, start_class
from test_e2e_media import _decode, _first_track

from webrtc import internals, rtp
from webrtc.client import SfuClient


async def test_a_viewers_socket_closing_under_the_teachers_sender_report_keeps_the_teacher(
    sfu: RunningSfu,
) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    alice = SfuClient(sfu.url, make_token("alice"))
    bob = SfuClient(sfu.url, make_token("bob"))
    try:
        await start_class(teacher, alice, bob)
        await teacher.publish([SmallVideoTrack(), AudioStreamTrack()])
        bob_video = await _first_track(bob, "video")
        assert isinstance(await _decode(bob_video), VideoFrame)
        assert isinstance(await _decode(await _first_track(alice, "video")), VideoFrame)

        room = sfu.sfu.rooms["live-42"]
        t1, a = room.participants["t1"], room.participants["alice"]
        video = next(t for t in t1.tracks.values() if t.kind == "video")
        assert any(b.transport is a.subscribe_transport for b in video.bindings)
        # As when alice's consent expires: her SFU-side socket closes before her DTLS state changes.
        assert a.subscribe_transport is not None
        dtls = a.subscribe_transport.dtls
        protocol, _ = internals.pair_route(internals.nominated_pair(internals.ice_connection(dtls)))
        udp = internals.protocol_transport(protocol)
        assert udp is not None
        udp.close()
        await asyncio.sleep(0)  # asyncio drops the socket; alice's DTLS still says connected
        assert dtls.state == "connected"
        # The teacher's sender report arrives now and is relayed to every viewer, alice's dead socket too.
        assert t1.publish_transport is not None and video.ssrc is not None
        errors = sfu.sfu.counters.handler_errors
        await t1.publish_transport._rx_rtcp(rtp.build_sr(video.ssrc, 1 << 32, 90_000, 10, 1_000))
        assert (
            sfu.sfu.counters.handler_errors == errors
        )  # the send to alice failed quietly, as to any gone peer

        # The teacher stays connected and bob keeps getting the class.
        await asyncio.sleep(2)
        assert teacher.publish_pc is not None and teacher.publish_pc.connectionState == "connected"
        assert t1.publish_pc is not None and t1.publish_pc.connectionState == "connected"
        assert len(t1.tracks) == 2
        for _ in range(5):
            assert isinstance(await _decode(bob_video), VideoFrame)
    finally:
        for c in (teacher, alice, bob):
            await c.close()


async def test_an_error_in_handling_a_publishers_packet_is_counted_not_fatal(sfu: RunningSfu) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        await teacher.publish([SmallVideoTrack()])
        t1 = sfu.sfu.rooms["live-42"].participants["t1"]
        transport = t1.publish_transport
        assert transport is not None

        def broken(data: bytes) -> None:
            raise RuntimeError("a bug in a handler")

        errors = sfu.sfu.counters.handler_errors
        real, transport.on_rtcp = transport.on_rtcp, broken
        await transport._rx_rtcp(b"\x80\xc8\x00\x06" + bytes(24))  # aiortc's call: must not raise
        transport.on_rtcp = real
        assert sfu.sfu.counters.handler_errors == errors + 1
        assert sfu.sfu.metrics()["handler_errors"] == errors + 1
        await asyncio.sleep(1)
        assert t1.publish_pc is not None and t1.publish_pc.connectionState == "connected"
    finally:
        await teacher.close()
