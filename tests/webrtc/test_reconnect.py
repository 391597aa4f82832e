"""Reconnecting: a room outlives a lone teacher's reconnect (started, removals, recording), an empty room is
dropped after its grace, an ended one at once, and a lost publish connection is published again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aioice.ice
import pytest
from sfu_helpers import SECRET, RunningSfu, SmallVideoTrack, WebhookSink, make_token, start_sfu

from media.storage.local import LocalStorage
from webrtc import internals
from webrtc.client import SfuClient, SfuError
from webrtc.config import SfuConfig
from webrtc.room import Participant

StartSfu = Callable[..., Awaitable[RunningSfu]]


@pytest.fixture
async def make_sfu(webhook_sink: WebhookSink, tmp_path: Path) -> AsyncIterator[StartSfu]:
    """Start SFUs with a given empty-room grace (and, with ``record=True``, local storage for recordings)."""
    runners = []

    async def start(grace_s: float, *, record: bool = False) -> RunningSfu:
        config = SfuConfig(
            secret=SECRET,
            webhook_url=webhook_sink.url,
            ice_hosts=["127.0.0.1"],
            heartbeat_s=5,
            empty_room_grace_s=grace_s,
            storage=LocalStorage(tmp_path / "store", "storage-secret-for-tests") if record else None,
            recording_dir=tmp_path / "spool",
        )
        running, runner = await start_sfu(config)
        runners.append(runner)
        return running

    yield start
    for runner in runners:
        await runner.cleanup()


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def _drop(client: SfuClient) -> None:
    """The client's network goes: its socket and peer connections close without a ``leave``."""
    for pc in (client.publish_pc, client.subscribe_pc):
        if pc is not None:
            await pc.close()
    client.publish_pc = client.subscribe_pc = None
    assert client.ws is not None
    await client.ws.close()


def _participant(running: RunningSfu, user: str) -> Participant:
    return running.sfu.rooms["live-42"].participants[user]


def _forwarding(running: RunningSfu, viewer: str, owner: str) -> bool:
    """Whether ``viewer`` is sent packets of a track ``owner`` publishes now (answered, and started)."""
    p = _participant(running, viewer)
    owner_p = running.sfu.rooms["live-42"].participants.get(owner)
    if owner_p is None:
        return False
    live = {t.id for t in owner_p.tracks.values()}
    return any(b.active and b.seq_off != -1 and b.track.id in live for b in p.bindings.values())


async def test_a_lone_teacher_who_joins_again_keeps_the_started_class_and_its_removals(
    make_sfu: StartSfu, webhook_sink: WebhookSink
) -> None:
    # No grace at all: a replacing join must not need one.
    running = await make_sfu(0.0)
    teacher = SfuClient(running.url, make_token("t1", "teacher"))
    mallory = SfuClient(running.url, make_token("mallory"))
    again = SfuClient(running.url, make_token("t1", "teacher"))
    back = SfuClient(running.url, make_token("mallory"))
    try:
        await teacher.connect()
        await mallory.connect()
        await teacher.send({"type": "start_class"})
        await teacher.send({"type": "remove", "user": "mallory"})
        await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "mallory")
        room = running.sfu.rooms["live-42"]
        assert list(room.participants) == ["t1"]  # alone now

        joined = await again.connect()  # the same teacher from a new page (or after a blip)
        assert joined["class_started"] is True
        replaced = await teacher.wait_for(lambda m: m["type"] == "error")
        assert replaced["code"] == "replaced"
        assert running.sfu.rooms["live-42"] is room and room.started
        with pytest.raises(SfuError) as info:
            await back.connect()
        assert info.value.code == "removed"
    finally:
        for c in (back, again, mallory, teacher):
            await c.close()


async def test_a_teacher_whose_connection_drops_finds_the_students_and_sends_to_them_again(
    make_sfu: StartSfu, webhook_sink: WebhookSink
) -> None:
    running = await make_sfu(120.0)
    teacher = SfuClient(running.url, make_token("t1", "teacher"))
    students = [SfuClient(running.url, make_token(f"s{i}")) for i in (1, 2)]
    again = SfuClient(running.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        for s in students:
            await s.connect()
        await teacher.publish([SmallVideoTrack()])
        await _until(lambda: all(_forwarding(running, u, "t1") for u in ("s1", "s2")))
        room = running.sfu.rooms["live-42"]

        await _drop(teacher)
        await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "t1")
        assert room.tracks() == []

        joined = await again.connect()
        assert joined["class_started"] is True and joined["in_lobby"] is False
        roster = await again.wait_type("participants")
        assert sorted(p["user"] for p in roster["participants"]) == ["s1", "s2", "t1"]
        assert running.sfu.rooms["live-42"] is room
        await again.publish([SmallVideoTrack()])
        await _until(lambda: all(_forwarding(running, u, "t1") for u in ("s1", "s2")))
        for s in students:  # the latest track map labels the new m-line as the teacher's camera
            assert [(t["user"], t["kind"]) for t in s.tracks.values()] == [("t1", "video")]
    finally:
        for c in (again, *students, teacher):
            await c.close()


async def test_a_lone_teacher_who_drops_finds_the_room_and_its_recording_going_on(
    make_sfu: StartSfu, webhook_sink: WebhookSink
) -> None:
    running = await make_sfu(120.0, record=True)
    teacher = SfuClient(running.url, make_token("t1", "teacher", record="teacher"))
    again = SfuClient(running.url, make_token("t1", "teacher", record="teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await teacher.wait_type("recording")
        await teacher.publish([SmallVideoTrack()])
        room = running.sfu.rooms["live-42"]
        recording = room.recording
        assert recording is not None

        await _drop(teacher)
        await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "t1")
        assert running.sfu.rooms.get("live-42") is room and room.participants == {}
        assert room.recording is recording and room.started

        joined = await again.connect()
        assert joined["class_started"] is True
        assert running.sfu.rooms["live-42"] is room and room.recording is recording
        await again.publish([SmallVideoTrack()])
        await asyncio.sleep(1.0)
        assert not [e for e in webhook_sink.events if e["type"] == "recording.finished"]
        assert not [m for m in again.messages if m == {"type": "recording", "on": False}]

        await again.send({"type": "end_class"})
        finished = await webhook_sink.wait_for(lambda e: e["type"] == "recording.finished", timeout=30)
        assert finished["user"] == "t1" and finished["data"]["size"] > 0
        assert [e["type"] for e in webhook_sink.events].count("recording.finished") == 1
    finally:
        await again.close()
        await teacher.close()


async def test_an_empty_room_is_dropped_after_its_grace(
    make_sfu: StartSfu, webhook_sink: WebhookSink
) -> None:
    running = await make_sfu(0.3)
    teacher = SfuClient(running.url, make_token("t1", "teacher"))
    later = SfuClient(running.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await teacher.wait_type("class_started")
        await teacher.close()
        await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "t1")
        assert "live-42" in running.sfu.rooms  # kept for the grace...
        await _until(lambda: "live-42" not in running.sfu.rooms, timeout=5)  # ...then gone
        joined = await later.connect()
        assert joined["class_started"] is False  # a new room
    finally:
        await later.close()
        await teacher.close()


async def test_an_ended_room_is_dropped_at_once_and_refuses_joins(
    make_sfu: StartSfu, webhook_sink: WebhookSink
) -> None:
    running = await make_sfu(120.0)
    teacher = SfuClient(running.url, make_token("t1", "teacher"))
    later = SfuClient(running.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await teacher.send({"type": "end_class"})
        await teacher.wait_type("class_ended")
        await teacher.close()
        await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "t1")
        assert "live-42" not in running.sfu.rooms  # no grace for an ended class
        with pytest.raises(SfuError) as info:
            await later.connect()
        assert info.value.code == "class_ended"
    finally:
        await later.close()
        await teacher.close()


async def test_a_lost_publish_connection_is_published_again(
    sfu: RunningSfu, webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Consent checks every 0.1 s instead of 5 s so the RFC 7675 expiry happens within seconds.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.1)
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"), republish_media=lambda: [SmallVideoTrack()])
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await student.connect()
        await teacher.publish([SmallVideoTrack()])
        await _until(lambda: _forwarding(sfu, "s1", "t1"))
        first = set(_participant(sfu, "t1").tracks.values())

        # The teacher's publish UDP path goes silent while its WebSocket stays open.
        assert teacher.publish_pc is not None
        dtls = teacher.publish_pc.getTransceivers()[0].sender.transport
        for protocol in internals.ice_protocols(internals.ice_connection(dtls)):
            protocol.transport.close()
        lost = await teacher.wait_for(lambda m: m["type"] == "error", timeout=30)
        assert lost["code"] == "publish_lost"

        # The client publishes again on a new connection and the student is sent the new track.
        await _until(lambda: teacher.republished == 1, timeout=15)
        await _until(lambda: _forwarding(sfu, "s1", "t1"))
        assert not first & set(_participant(sfu, "t1").tracks.values())
        assert "t1" in sfu.sfu.rooms["live-42"].participants
        assert not [e for e in webhook_sink.events if e["type"] == "participant.left"]
        assert sfu.sfu.metrics()["timeouts"] == 1  # the publish connection, not the participant
    finally:
        await student.close()
        await teacher.close()


@pytest.mark.parametrize(
    ("value", "grace_s"), [(None, 120.0), ("", 120.0), ("30", 30.0), ("0", 0.0), ("2.5", 2.5)]
)
def test_the_grace_comes_from_the_environment(value: str | None, grace_s: float) -> None:
    env = {"LMS_SFU_SECRET": "s" * 32}
    if value is not None:
        env["LMS_SFU_EMPTY_ROOM_GRACE_S"] = value
    assert SfuConfig.from_env(env).empty_room_grace_s == grace_s


@pytest.mark.parametrize("value", ["two minutes", "-1", "nan", "inf"])
def test_a_bad_grace_is_refused_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="LMS_SFU_EMPTY_ROOM_GRACE_S"):
        SfuConfig.from_env({"LMS_SFU_SECRET": "s" * 32, "LMS_SFU_EMPTY_ROOM_GRACE_S": value})
