"""The SFU's guards: single-use join tokens, fixed error texts, /metrics access, chat and hand rate limits."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from sfu_helpers import SECRET, RunningSfu, make_token, start_sfu

from webrtc import server
from webrtc.client import SfuClient, SfuError
from webrtc.guards import TokenReplayGuard
from webrtc.server import SFU_KEY, SfuConfig, create_app


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# --- single-use join tokens -----------------------------------------------------------------------


async def test_a_join_token_joins_once(sfu: RunningSfu) -> None:
    token = make_token("s1")
    first = SfuClient(sfu.url, token)
    second = SfuClient(sfu.url, token)
    try:
        await first.connect()
        with pytest.raises(SfuError) as info:
            await second.connect()
        assert info.value.code == "token_invalid" and info.value.payload["message"] == "already_used"
        await second.wait_type("_closed")
        # The first session is untouched: the replay did not replace it.
        assert sfu.sfu.metrics()["participants"] == 1
        assert not any(m.get("code") == "replaced" for m in first.messages)
        # A fresh token for the same user joins (the page fetches one for every reconnect).
        third = SfuClient(sfu.url, make_token("s1"))
        await third.connect()
        await third.close()
    finally:
        await first.close()
        await second.close()


async def test_a_token_used_by_a_left_participant_stays_used(sfu: RunningSfu) -> None:
    token = make_token("s1")
    client = SfuClient(sfu.url, token)
    await client.connect()
    await client.close()
    again = SfuClient(sfu.url, token)
    try:
        with pytest.raises(SfuError) as info:
            await again.connect()
        assert info.value.payload["message"] == "already_used"
    finally:
        await again.close()


def test_replay_guard_forgets_expired_token_ids() -> None:
    clock = FakeClock()
    guard = TokenReplayGuard(clock)
    assert guard.admit("a", clock.t + 310)
    assert guard.admit("b", clock.t + 10)
    assert not guard.admit("a", clock.t + 310)
    clock.t += 11
    guard.purge()
    assert len(guard) == 1  # b expired: no verifier accepts it any more, so it need not be remembered
    clock.t += 299
    assert not guard.admit("a", clock.t + 5)  # at its last valid second: still refused
    clock.t += 1
    guard.purge()
    assert len(guard) == 0


# --- error replies carry no exception text --------------------------------------------------------


async def test_error_replies_are_fixed_texts(sfu: RunningSfu, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_detail = "/srv/ieum/secret-path.py line 42"

    async def broken(*args: Any) -> None:
        raise RuntimeError(secret_detail)

    monkeypatch.setitem(server.HANDLERS, "unmute", broken)
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "unmute"})
        internal = await teacher.wait_for(lambda m: m.get("code") == "internal")
        assert internal["message"] == "the server could not handle this message"
        # aiortc refuses this offer (no ICE/DTLS attributes) with its own exception text.
        await teacher.send({"type": "offer", "pc": "publish", "sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n"})
        bad_offer = await teacher.wait_for(lambda m: m.get("code") == "bad_sdp")
        assert bad_offer["message"] == "cannot apply the offer"
        await teacher.send({"type": "offer", "pc": "publish", "sdp": "v=0\r\nno media here\r\n"})
        not_sdp = await teacher.wait_for(lambda m: m.get("code") == "bad_sdp", start=teacher.messages.index(bad_offer) + 1)
        assert not_sdp["message"] == "the offer is not an SDP document with media"
        errors = [m for m in teacher.messages if m["type"] == "error"]
        assert all(secret_detail not in m["message"] and "Error" not in m["message"] for m in errors)
    finally:
        await teacher.close()


# --- /metrics --------------------------------------------------------------------------------------


async def test_metrics_want_the_bearer_token_when_configured() -> None:
    running, runner = await start_sfu(SfuConfig(secret=SECRET, metrics_token="metrics-token-0123456789"))
    try:
        async with aiohttp.ClientSession() as session:
            url = running.http + "/metrics"
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "metrics-token-0123456789"}):
                async with session.get(url, headers=headers) as resp:
                    assert resp.status == 401
                    assert "pid" not in await resp.text()
            async with session.get(url, headers={"Authorization": "Bearer metrics-token-0123456789"}) as resp:
                assert resp.status == 200 and "pid" in await resp.json()
            async with session.get(running.http + "/healthz") as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_metrics_without_a_token_answer_loopback_only(sfu: RunningSfu) -> None:
    async with aiohttp.ClientSession() as session, session.get(sfu.http + "/metrics") as resp:
        assert resp.status == 200 and "pid" in await resp.json()  # the test client is on 127.0.0.1
    app = create_app(SfuConfig(secret=SECRET))
    for remote, status in [("203.0.113.9", 403), ("10.0.0.5", 403), ("::1", 200), ("127.0.0.1", 200), (None, 403)]:
        request = make_mocked_request("GET", "/metrics", app=app).clone(remote=remote)
        assert (await server.metrics(request)).status == status, remote
    assert app[SFU_KEY].config.metrics_token is None
    assert SfuConfig.from_env({"LMS_SFU_SECRET": "s", "LMS_SFU_METRICS_TOKEN": "m"}).metrics_token == "m"
