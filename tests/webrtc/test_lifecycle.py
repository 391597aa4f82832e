"""Peer-connection lifecycle: ICE consent loss is a timeout, shutdown closes every connection."""

from __future__ import annotations

import asyncio

import aioice.ice
import pytest
from sfu_helpers import SECRET, RunningSfu, SmallVideoTrack, WebhookSink, make_token, start_sfu

from webrtc import internals
from webrtc.client import SfuClient
from webrtc.config import SfuConfig


async def test_client_that_vanishes_from_ice_is_timed_out(
    sfu: RunningSfu, webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Consent checks every 0.1 s instead of 5 s so the RFC 7675 expiry happens within seconds.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.1)
    url = sfu.url
    teacher = SfuClient(url, make_token("t1", "teacher"))
    student = SfuClient(url, make_token("s1"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await student.connect()
        await teacher.publish([SmallVideoTrack()])
        async with asyncio.timeout(15):
            while student.connected_at is None:
                await asyncio.sleep(0.05)
        # The student's UDP sockets go silent (network gone) while its WebSocket stays open.
        assert student.subscribe_pc is not None
        dtls = student.subscribe_pc.getTransceivers()[0].receiver.transport
        for protocol in internals.ice_protocols(internals.ice_connection(dtls)):
            protocol.transport.close()
        left = await webhook_sink.wait_for(
            lambda e: e["type"] == "participant.left" and e["user"] == "s1", timeout=30
        )
        assert left["data"] == {"reason": "timeout"}
        assert "s1" not in sfu.sfu.rooms["live-42"].participants
    finally:
        await student.close()
        await teacher.close()


async def test_shutdown_closes_every_peer_connection(webhook_sink: WebhookSink) -> None:
    running, runner = await start_sfu(
        SfuConfig(secret=SECRET, webhook_url=webhook_sink.url, ice_hosts=["127.0.0.1"])
    )
    url = running.url
    teacher = SfuClient(url, make_token("t1", "teacher"))
    student = SfuClient(url, make_token("s1"))
    await teacher.connect()
    await teacher.send({"type": "start_class"})
    await student.connect()
    await teacher.publish([SmallVideoTrack()])
    async with asyncio.timeout(15):
        while not student.remote_tracks:
            await asyncio.sleep(0.05)
    sfu = running.sfu
    pcs = list(sfu.peer_connections)
    assert len(pcs) == 2
    await runner.cleanup()
    assert sfu.peer_connections == set()
    assert all(pc.connectionState == "closed" for pc in pcs)
    reasons = {e["user"]: e["data"]["reason"] for e in webhook_sink.events if e["type"] == "participant.left"}
    assert reasons == {"t1": "shutdown", "s1": "shutdown"}
    await student.close()
    await teacher.close()
