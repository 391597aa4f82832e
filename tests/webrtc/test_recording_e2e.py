"""A recorded class end to end: aiortc publishers → SFU → recorder → storage → signed webhook; ffprobe reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sfu_helpers import (
    SECRET,
    RunningSfu,
    SmallVideoTrack,
    ToneTrack,
    WebhookSink,
    make_token,
    probe,
    start_sfu,
)

from contracts.rooms import is_recording_key_for
from media.storage import LocalStorage
from webrtc.client import SfuClient, SfuError
from webrtc.config import SfuConfig


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store", "storage-secret-for-tests")


@pytest.fixture
async def recording_sfu(
    webhook_sink: WebhookSink, storage: LocalStorage, tmp_path: Path
) -> AsyncIterator[RunningSfu]:
    config = SfuConfig(
        secret=SECRET,
        webhook_url=webhook_sink.url,
        ice_hosts=["127.0.0.1"],
        heartbeat_s=5,
        storage=storage,
        recording_dir=tmp_path / "spool",
    )
    running, runner = await start_sfu(config)
    yield running
    await runner.cleanup()


async def _class_with_a_speaker(sfu: RunningSfu, record: str, seconds: float) -> None:
    """Teacher publishes camera + microphone, Alice is brought on stage and speaks, the teacher ends the class."""
    teacher = SfuClient(sfu.url, make_token("t1", "teacher", record=record))
    alice = SfuClient(sfu.url, make_token("alice"))
    try:
        await teacher.connect()
        await alice.connect()
        await teacher.send({"type": "start_class"})
        if record:
            msg = await teacher.wait_type("recording")
            assert msg == {"type": "recording", "on": True, "mode": record}
        await teacher.publish([SmallVideoTrack(), ToneTrack()])
        await alice.send({"type": "raise_hand"})
        await teacher.send({"type": "stage", "user": "alice", "on": True})
        await alice.wait_for(lambda m: m["type"] == "stage" and m["user"] == "alice" and m["on"])
        await alice.publish([ToneTrack()])
        await asyncio.sleep(seconds)
        await teacher.send({"type": "end_class"})
        await alice.wait_type("class_ended")
    finally:
        await alice.close()
        await teacher.close()


@pytest.mark.parametrize(("record", "audio_streams"), [("teacher", 1), ("stage", 2)])
async def test_recording_lands_in_storage_and_the_app_is_told(
    recording_sfu: RunningSfu,
    webhook_sink: WebhookSink,
    storage: LocalStorage,
    tmp_path: Path,
    record: str,
    audio_streams: int,
    ffprobe: str,
) -> None:
    await _class_with_a_speaker(recording_sfu, record, seconds=3.0)

    event = await webhook_sink.wait_for(lambda e: e["type"] == "recording.finished", timeout=30)
    assert event["room"] == "live-42" and event["user"] == "t1"
    data = event["data"]
    key = data["object_key"]
    assert key.startswith("recordings/live-42/") and key.endswith(".webm")
    assert data["content_type"] == "video/webm"
    assert is_recording_key_for(key, "live-42", data["content_type"])  # the app will accept it
    assert storage.exists(key) and storage.size(key) == data["size"] > 0

    # What a teacher plays back: the stored object itself, read by ffprobe.
    local = tmp_path / "played.webm"
    storage.get_to_file(key, local)
    info = probe(ffprobe, local)
    codecs = sorted((s["codec_type"], s["codec_name"]) for s in info["streams"])
    assert codecs == [("audio", "opus")] * audio_streams + [("video", "vp8")]
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (160, 120)
    duration = float(info["format"]["duration"])
    assert 2.0 <= duration <= 10.0, duration
    assert abs(duration - data["duration_s"]) < 1.0
    # The spool and the local file are gone once uploaded.
    assert not any((tmp_path / "spool").iterdir())


async def test_a_course_without_recording_records_nothing(
    recording_sfu: RunningSfu, webhook_sink: WebhookSink, storage: LocalStorage
) -> None:
    await _class_with_a_speaker(recording_sfu, "", seconds=0.5)
    await webhook_sink.wait_for(lambda e: e["type"] == "participant.left" and e["user"] == "t1")
    assert not [e for e in webhook_sink.events if e["type"].startswith("recording")]
    assert storage.list("recordings/") == []


async def test_a_student_token_never_records(recording_sfu: RunningSfu) -> None:
    # record= on a student's token is ignored by verify_join_token; a student cannot start a class either.
    student = SfuClient(recording_sfu.url, make_token("mallory", record="stage"))
    try:
        await student.connect()
        await student.send({"type": "start_class"})
        err = await student.wait_type("error")
        assert err["code"] == "forbidden"
        assert recording_sfu.sfu.rooms["live-42"].recording is None
    finally:
        await student.close()


async def test_without_storage_the_teacher_is_told(sfu: RunningSfu) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher", record="teacher"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        err = await teacher.wait_type("error")
        assert err["code"] == "recording_unavailable"
        await teacher.wait_type("class_started")
    finally:
        await teacher.close()


async def test_the_end_disconnects_everyone_and_nobody_joins_again(
    recording_sfu: RunningSfu, webhook_sink: WebhookSink
) -> None:
    teacher = SfuClient(recording_sfu.url, make_token("t1", "teacher"))
    stays = SfuClient(recording_sfu.url, make_token("stays"))
    late = SfuClient(recording_sfu.url, make_token("late"))
    later = SfuClient(recording_sfu.url, make_token("later"))
    try:
        await teacher.connect()
        await stays.connect()
        await teacher.send({"type": "end_class"})
        await teacher.wait_type("class_ended")
        await stays.wait_type("class_ended")
        with pytest.raises(SfuError) as info:
            await late.connect()
        assert info.value.code == "class_ended"
        # A client that ignores class_ended is disconnected after the grace; then the room is gone...
        for user in ("t1", "stays"):
            left = await webhook_sink.wait_for(
                lambda e, u=user: e["type"] == "participant.left" and e["user"] == u
            )
            assert left["data"] == {"reason": "ended"}
        assert "live-42" not in recording_sfu.sfu.rooms
        # ...and a token fetched before the end still cannot reopen it.
        with pytest.raises(SfuError) as info:
            await later.connect()
        assert info.value.code == "class_ended"
    finally:
        for c in (later, late, stays, teacher):
            await c.close()
