"""The SFU's guards: single-use join tokens, fixed error texts, /metrics access, chat and hand rate limits."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from sfu_helpers import SECRET, RunningSfu, WebhookSink, make_token, start_sfu

from webrtc import signalling
from webrtc.client import SfuClient, SfuError
from webrtc.config import SfuConfig
from webrtc.guards import TokenBucket, TokenReplayGuard
from webrtc.room import Participant, Room
from webrtc.signalling import SFU_KEY, create_app


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

    monkeypatch.setitem(signalling.HANDLERS, "unmute", broken)
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "unmute"})
        internal = await teacher.wait_for(lambda m: m.get("code") == "internal")
        assert internal["message"] == "the server could not handle this message"
        # aiortc refuses this offer (no ICE/DTLS attributes) with its own exception text.
        await teacher.send(
            {
                "type": "offer",
                "pc": "publish",
                "sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n",
            }
        )
        bad_offer = await teacher.wait_for(lambda m: m.get("code") == "bad_sdp")
        assert bad_offer["message"] == "cannot apply the offer"
        await teacher.send({"type": "offer", "pc": "publish", "sdp": "v=0\r\nno media here\r\n"})
        not_sdp = await teacher.wait_for(
            lambda m: m.get("code") == "bad_sdp", start=teacher.messages.index(bad_offer) + 1
        )
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
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": "metrics-token-0123456789"},
            ):
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
    for remote, status in [
        ("203.0.113.9", 403),
        ("10.0.0.5", 403),
        ("::1", 200),
        ("127.0.0.1", 200),
        (None, 403),
    ]:
        request = make_mocked_request("GET", "/metrics", app=app).clone(remote=remote)
        assert (await signalling.metrics(request)).status == status, remote
    assert app[SFU_KEY].config.metrics_token is None
    assert SfuConfig.from_env({"LMS_SFU_SECRET": "s", "LMS_SFU_METRICS_TOKEN": "m"}).metrics_token == "m"


def test_metrics_keep_their_format(sfu: RunningSfu) -> None:
    # Monitoring and the load test read these keys in this order: add at the end, never rename.
    metrics = sfu.sfu.metrics()
    assert list(metrics) == [
        "rooms", "participants", "tracks", "peer_connections", "packets_in", "packets_in_expected",
        "packets_in_received", "dropped_in", "packets_out", "bytes_out", "rtcp_in", "rtcp_out", "nacks",
        "nacks_to_publishers", "rtx_in", "retransmits", "plis_in", "plis_out", "timeouts", "webhooks_pending",
        "webhooks_delivered", "cpu", "cpu_seconds", "rss", "rss_mb", "pid", "uptime_s", "loop_lag_max_ms",
        "gc_pause_max_ms", "gc_seconds", "worker", "workers", "handler_errors", "udp_unrouted",
    ]  # fmt: skip
    assert metrics["rooms"] == metrics["participants"] == metrics["timeouts"] == 0
    assert metrics["rss_mb"] > 0 and metrics["pid"] > 0


# --- chat and hand rate limits ----------------------------------------------------------------------


def test_token_bucket_bursts_then_refills() -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity=5, per_s=10.0, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.t += 2.0  # one message's worth
    assert bucket.take() and not bucket.take()
    clock.t += 100.0  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 5


async def test_chat_beyond_the_limit_is_dropped_with_an_error(
    sfu: RunningSfu, webhook_sink: WebhookSink
) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await teacher.connect()
        await student.connect()
        for i in range(8):
            await student.send({"type": "chat", "text": f"도배 {i}"})
        await student.wait_for(
            lambda m: m.get("code") == "rate_limited" and m["message"].startswith("too many chat")
        )
        async with asyncio.timeout(10):
            while sum(m.get("code") == "rate_limited" for m in student.messages) < 3:
                await asyncio.sleep(0.02)
        await teacher.send({"type": "chat", "text": "끝"})  # the teacher's own bucket is untouched
        await teacher.wait_for(lambda m: m["type"] == "chat" and m["text"] == "끝")
        from_student = [m["text"] for m in teacher.messages if m["type"] == "chat" and m["from"] == "s1"]
        assert from_student == [f"도배 {i}" for i in range(5)]
        await webhook_sink.wait_for(lambda e: e["type"] == "chat.message" and e["user"] == "t1")
        assert sum(e["type"] == "chat.message" and e["user"] == "s1" for e in webhook_sink.events) == 5
    finally:
        await teacher.close()
        await student.close()


async def test_hand_raises_beyond_the_limit_are_dropped(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await student.connect()
        for i in range(12):
            await student.send({"type": "raise_hand" if i % 2 == 0 else "lower_hand"})
        async with asyncio.timeout(10):
            while sum(m.get("code") == "rate_limited" for m in student.messages) < 2:
                await asyncio.sleep(0.02)
        await student.send({"type": "chat", "text": "마지막"})
        await webhook_sink.wait_for(lambda e: e["type"] == "chat.message")
        hands = [e["type"] for e in webhook_sink.events if e["type"].startswith("hand.")]
        assert hands == ["hand.raised", "hand.lowered"] * 5
    finally:
        await student.close()


def test_every_participant_has_its_own_buckets() -> None:
    from contracts.tokens import JoinClaims

    room = Room("r")
    a = Participant(JoinClaims("r", "a", "a", "student", (), 0, 300, "ja"))  # type: ignore[arg-type]
    b = Participant(JoinClaims("r", "b", "b", "student", (), 0, 300, "jb"))  # type: ignore[arg-type]
    room.add(a)
    room.add(b)
    assert a.chat_limit is not b.chat_limit and a.hand_limit is not b.hand_limit
    while a.chat_limit.take():
        pass
    assert b.chat_limit.take()
