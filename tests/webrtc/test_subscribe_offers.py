"""A subscribe offer that could not be made (createOffer failed) is made on the next sync."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from sfu_helpers import RunningSfu, SmallVideoTrack, make_token

from webrtc.client import SfuClient


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_subscribe_offer_that_failed_is_made_on_the_next_sync(
    sfu: RunningSfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await teacher.publish([SmallVideoTrack()])
        room = sfu.sfu.rooms["live-42"]
        await _until(lambda: bool(room.tracks()))

        # The SFU's next createOffer fails once (the only offerer from here on: the student only answers).
        original = RTCPeerConnection.createOffer
        failures: list[str] = []

        async def fail_once(self: RTCPeerConnection) -> RTCSessionDescription:
            if not failures:
                failures.append("offer")
                raise RuntimeError("createOffer failed (test)")
            return await original(self)

        monkeypatch.setattr(RTCPeerConnection, "createOffer", fail_once)
        await student.connect()
        await _until(lambda: bool(failures))
        p = room.participants["s1"]
        await _until(lambda: not p.negotiating)
        assert not [m for m in student.messages if m["type"] == "offer"]

        # Nothing in the room changed, yet the next sync offers the teacher's track.
        await sfu.sfu.router.sync(room, p)
        offer: dict[str, Any] = await student.wait_type("offer")
        assert offer["pc"] == "subscribe"
        assert [(t["user"], t["kind"]) for t in student.tracks.values()] == [("t1", "video")]
        await _until(lambda: any(b.active for b in p.bindings.values()))
        assert not p.offer_stale
    finally:
        await student.close()
        await teacher.close()
