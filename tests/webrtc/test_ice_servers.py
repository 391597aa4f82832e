"""ICE servers are configuration: with none configured, no STUN server (public or not) is ever contacted."""

from __future__ import annotations

from aiortc import RTCPeerConnection

from webrtc.config import SfuConfig


def _config(**env: str) -> SfuConfig:
    return SfuConfig.from_env({"LMS_SFU_SECRET": "s" * 32, **env})


def test_without_configuration_no_ice_server_is_used() -> None:
    cfg = _config()
    assert cfg.server_rtc_configuration().iceServers == []
    assert cfg.client_ice_servers("7") == []


def test_configured_stun_and_turn_reach_the_sfu_and_the_browser() -> None:
    cfg = _config(
        LMS_STUN_URLS="stun:stun.school.kr:3478, stun:10.0.0.2",
        LMS_TURN_URLS="turn:turn.school.kr:3478?transport=udp",
        LMS_TURN_SECRET="t" * 32,
    )
    assert [s.urls for s in cfg.server_rtc_configuration().iceServers or []] == [
        "stun:stun.school.kr:3478",
        "stun:10.0.0.2",
    ]
    servers = cfg.client_ice_servers("7")
    assert servers[:2] == [{"urls": "stun:stun.school.kr:3478"}, {"urls": "stun:10.0.0.2"}]
    turn = servers[2]
    assert turn["urls"] == ["turn:turn.school.kr:3478?transport=udp"]
    assert turn["username"].endswith(":7") and turn["credential"]


async def test_a_gathering_sfu_peer_asks_no_stun_server() -> None:
    """aiortc's default (stun.l.google.com) is gone: the ICE connection it builds has no STUN server."""
    pc = RTCPeerConnection(_config().server_rtc_configuration())
    try:
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        connection = pc.getTransceivers()[0].receiver.transport.transport.iceGatherer._connection
        assert connection.stun_server is None and connection.turn_server is None
        assert "typ srflx" not in pc.localDescription.sdp
    finally:
        await pc.close()
