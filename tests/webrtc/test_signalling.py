"""Signalling against the real server on loopback: tokens, bad input, class control, webhooks, join storm."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web
from sfu_helpers import SECRET, RunningSfu, SmallVideoTrack, WebhookSink, make_token, start_sfu

from contracts.tokens import issue_join_token
from contracts.webhooks import verify_webhook
from webrtc.client import SfuClient, SfuError
from webrtc.webhooks import WebhookSender


def _tampered(token: str) -> str:
    """Promote a student to teacher in the payload but keep the original signature."""
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "teacher"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{sig}"


# Tokens are made when each test runs, not when the module is imported: a join token lives 5 minutes,
# and in a long suite the valid ones would have expired before their test (and be refused as "expired").
@pytest.mark.parametrize(
    ("token", "query", "reason"),
    [
        (lambda: _tampered(make_token("u1")), "", "forged"),
        (lambda: make_token("u1", now=time.time() - 1000), "", "expired"),
        (lambda: make_token("u1", room="live-7"), "?room=live-42", "other_room"),
        (
            lambda: issue_join_token(
                "another-secret-another-secret-xx",
                room="live-42",
                user_id="u",
                name="n",
                role="teacher",
                publish=[],
            ),
            "",
            "forged",
        ),
        (lambda: "garbage", "", "malformed"),
    ],
    ids=["forged", "expired", "other_room", "other_secret", "malformed"],
)
async def test_bad_tokens_are_refused_before_media(
    sfu: RunningSfu, token: Callable[[], str], query: str, reason: str
) -> None:
    client = SfuClient(sfu.url + query, token())
    with pytest.raises(SfuError) as info:
        await client.connect()
    assert info.value.code == "token_invalid" and info.value.payload["message"] == reason
    await client.wait_type("_closed")
    assert sfu.sfu.peer_connections == set() and sfu.sfu.metrics()["participants"] == 0
    await client.close()


async def test_first_message_must_be_join(sfu: RunningSfu) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sfu.url) as ws:
        await ws.send_str("{not json")
        msg = await ws.receive_json()
        assert msg["code"] == "token_invalid"


async def test_malformed_json_and_sdp_only_hurt_the_sender(
    sfu: RunningSfu, webhook_sink: WebhookSink
) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await student.connect()
        mark = len(student.messages)
        await teacher.send_raw("{this is not json")
        assert (await teacher.wait_type("error"))["code"] == "bad_json"
        await teacher.send_raw("[1, 2]")
        await teacher.wait_for(lambda m: m.get("code") == "bad_message")
        await teacher.send({"type": "offer", "pc": "publish", "sdp": "v=0\r\nthis is not sdp\r\n"})
        await teacher.wait_for(lambda m: m.get("code") == "bad_sdp")
        await teacher.send(
            {
                "type": "offer",
                "pc": "publish",
                "sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n",
            }
        )
        await teacher.wait_for(lambda m: m.get("code") == "bad_sdp" and "apply" in m["message"])
        await teacher.send({"type": "offer", "pc": "publish", "sdp": "hello"})
        await teacher.send({"type": "answer", "pc": "subscribe", "sdp": "v=0"})
        await teacher.send({"type": "dance"})
        await teacher.wait_for(lambda m: m.get("code") == "unknown_type")
        await teacher.send({"type": "stage", "user": "nobody", "on": True})
        await teacher.wait_for(lambda m: m.get("code") == "unknown_user")
        await student.send({"type": "start_class"})
        await student.wait_for(lambda m: m.get("code") == "forbidden")
        assert not any(m["type"] == "error" for m in student.messages[mark:] if m.get("code") != "forbidden")

        # The room still works: chat and media flow.
        await teacher.send({"type": "chat", "text": "안녕하세요 여러분"})
        chat = await student.wait_type("chat")
        assert chat["from"] == "t1" and chat["text"] == "안녕하세요 여러분" and chat["name"] and chat["at"]
        await teacher.publish([SmallVideoTrack()])
        async with asyncio.timeout(15):
            while not student.remote_tracks:
                await asyncio.sleep(0.05)
            frame = await student.remote_tracks[0][0].recv()
        assert frame.width == 160
    finally:
        await teacher.close()
        await student.close()


async def test_webhooks_are_signed_and_ordered(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher", name="김선생"))
    student = SfuClient(sfu.url, make_token("s1", name="이학생"))
    await teacher.connect()
    await student.connect()
    await student.send({"type": "raise_hand"})
    await student.send({"type": "chat", "text": "질문 있어요"})
    await student.close()
    await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "s1")
    await teacher.close()
    events = [e for e in webhook_sink.events if e["user"] == "s1"]
    assert [e["type"] for e in events] == [
        "participant.joined",
        "hand.raised",
        "chat.message",
        "participant.left",
    ]
    assert events[0]["data"] == {"name": "이학생", "role": "student"}
    assert events[2]["data"] == {"text": "질문 있어요"}
    assert events[3]["data"] == {"reason": "bye"}
    assert all(e["room"] == "live-42" and e["at"].endswith("Z") for e in events)
    assert len({e["id"] for e in webhook_sink.events}) == len(webhook_sink.events)
    assert webhook_sink.bad_signatures == 0


async def test_remove_and_mute(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    student = SfuClient(sfu.url, make_token("s1"))
    await teacher.connect()
    await student.connect()
    await teacher.send({"type": "mute", "user": "s1"})
    assert (await student.wait_type("muted"))["by"] == "t1"
    await teacher.send({"type": "remove", "user": "s1"})
    await student.wait_type("removed")
    await student.wait_type("_closed")
    left = await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "s1")
    assert left["data"] == {"reason": "kicked"}
    again = SfuClient(sfu.url, make_token("s1"))
    with pytest.raises(SfuError) as info:
        await again.connect()
    assert info.value.code == "removed"
    for c in (again, student, teacher):
        await c.close()


async def test_vanished_client_is_a_timeout(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    student = SfuClient(sfu.url, make_token("s1"))
    await student.connect()
    assert student.ws is not None
    # Drop the TCP connection without a close frame, as a crashed browser or lost network would.
    student.ws._response.connection.transport.abort()  # type: ignore[union-attr]
    left = await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "s1")
    assert left["data"] == {"reason": "timeout"}
    await student.close()


async def test_join_storm_of_100(sfu: RunningSfu) -> None:
    # Signalling-only joins (students wait in the lobby, so no peer connections are made): this checks
    # token verification, the roster feed and webhook queueing under a burst.
    async with aiohttp.ClientSession() as session:
        clients = [SfuClient(sfu.url, make_token(f"s{i}"), session=session) for i in range(100)]

        async def join(i: int, c: SfuClient) -> dict[str, object]:
            await asyncio.sleep(i * 0.05)  # 100 joins spread over 5 s
            return await c.connect(timeout=30)

        results = await asyncio.gather(*(join(i, c) for i, c in enumerate(clients)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        assert sfu.sfu.metrics()["participants"] == 100
        # A student is told the count, not the 99 others (webrtc/roster.py: signalling stays linear).
        roster = await clients[-1].wait_type("participants")
        assert roster["count"] == 100 and [p["user"] for p in roster["participants"]] == ["s99"]
        assert not [m for c in clients for m in c.messages if m["type"] == "participant"]
        await asyncio.gather(*(c.close() for c in clients))


async def test_webhook_sender_retries_until_2xx() -> None:
    attempts: list[str] = []

    async def flaky(request: web.Request) -> web.Response:
        body = await request.read()
        assert verify_webhook(
            SECRET, body, request.headers["X-Ieum-Signature"], request.headers["X-Ieum-Timestamp"]
        )
        attempts.append(request.headers["X-Ieum-Event-Id"])
        return web.Response(status=503 if len(attempts) < 3 else 200)

    app = web.Application()
    app.router.add_post("/hook", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sender = WebhookSender(f"http://127.0.0.1:{port}/hook", SECRET, first_backoff_s=0.01)
    first = sender.emit("participant.joined", "live-1", "u", {"name": "n", "role": "student"})
    second = sender.emit("participant.left", "live-1", "u", {"reason": "bye"})
    assert await sender.flush(10)
    await sender.close()
    await runner.cleanup()
    assert attempts == [first["id"]] * 3 + [second["id"]]
    assert sender.delivered == 2 and sender.failures == 2


async def test_join_reply_carries_turn_credentials() -> None:
    from webrtc.config import SfuConfig

    config = SfuConfig.from_env(
        {
            "LMS_SFU_SECRET": SECRET,
            "LMS_TURN_URLS": "turn:turn.example.kr:3478, turns:turn.example.kr:5349",
            "LMS_TURN_SECRET": "turn-secret",
        }
    )
    assert config.turn_urls == ["turn:turn.example.kr:3478", "turns:turn.example.kr:5349"]
    running, runner = await start_sfu(config)
    client = SfuClient(running.url, make_token("s1"))
    try:
        joined = await client.connect()
        (server,) = joined["ice_servers"]
        assert server["urls"] == config.turn_urls
        expiry, user = server["username"].split(":")
        assert user == "s1" and int(expiry) > time.time()
        assert server["credential"]
    finally:
        await client.close()
        await runner.cleanup()
        await runner.cleanup()
    with pytest.raises(ValueError):
        SfuConfig.from_env({})


def test_the_old_server_module_still_exports_the_entry_points() -> None:
    # Older imports (and other people's scripts) use ``webrtc.server``; the code now lives by responsibility.
    from webrtc import config, server, sfu, signalling

    assert server.create_app is signalling.create_app and server.SFU_KEY is signalling.SFU_KEY
    assert server.Sfu is sfu.Sfu and server.SfuConfig is config.SfuConfig
