"""End to end over loopback: real SFU, aiortc publishers and subscribers that decode what they get."""

from __future__ import annotations

import asyncio

from aiortc import AudioStreamTrack, MediaStreamTrack
from av import AudioFrame, VideoFrame
from sfu_helpers import RunningSfu, SmallVideoTrack, ToneTrack, WebhookSink, make_token

from webrtc.client import SfuClient, SfuError


async def _first_track(client: SfuClient, kind: str, timeout: float = 15.0) -> MediaStreamTrack:
    async with asyncio.timeout(timeout):
        while True:
            for track, _mid in client.remote_tracks:
                if track.kind == kind:
                    return track
            await asyncio.sleep(0.05)


async def _decode(track: MediaStreamTrack, timeout: float = 15.0) -> VideoFrame | AudioFrame:
    async with asyncio.timeout(timeout):
        frame = await track.recv()
    assert isinstance(frame, (VideoFrame, AudioFrame))
    return frame


async def test_teacher_video_reaches_two_students_decoded(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher", name="김선생"))
    students = [SfuClient(sfu.url, make_token(f"s{i}")) for i in (1, 2)]
    try:
        await teacher.connect()
        for s in students:
            joined = await s.connect()
            assert joined["in_lobby"] is True
        await teacher.send({"type": "start_class"})
        for s in students:
            await s.wait_type("class_started")
        await teacher.publish([SmallVideoTrack()])
        for s in students:
            track = await _first_track(s, "video")
            frame = await _decode(track)
            assert isinstance(frame, VideoFrame)
            assert (frame.width, frame.height) == (160, 120)
            tracks = list(s.tracks.values())
            assert tracks == [{"mid": tracks[0]["mid"], "user": "t1", "name": "김선생", "kind": "video"}]
        metrics = sfu.sfu.metrics()
        assert metrics["packets_out"] > 0 and metrics["participants"] == 3
        await webhook_sink.wait_for(
            lambda e: e["type"] == "publish.started" and e["data"] == {"kind": "video"}
        )
    finally:
        for c in [teacher, *students]:
            await c.close()


async def test_student_on_stage_audio_reaches_others(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    alice = SfuClient(sfu.url, make_token("alice"))
    bob = SfuClient(sfu.url, make_token("bob"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await alice.connect()
        await bob.connect()

        # Not on stage yet: the offer is refused and nothing is forwarded.
        try:
            await alice.publish([AudioStreamTrack()])
            raise AssertionError("publish without stage must be refused")
        except SfuError as exc:
            assert exc.code == "publish_denied"
        assert sfu.sfu.rooms["live-42"].tracks() == []
        await alice.publish_pc.close()  # type: ignore[union-attr]
        alice.publish_pc = None

        await alice.send({"type": "raise_hand"})
        await webhook_sink.wait_for(lambda e: e["type"] == "hand.raised" and e["user"] == "alice")
        await teacher.send({"type": "stage", "user": "alice", "on": True})
        await alice.wait_for(lambda m: m["type"] == "stage" and m["user"] == "alice" and m["on"])
        await alice.publish([AudioStreamTrack()])
        for c in (teacher, bob):
            track = await _first_track(c, "audio")
            frame = await _decode(track)
            assert isinstance(frame, AudioFrame)
            assert c.tracks[next(iter(c.tracks))]["user"] == "alice"
        await webhook_sink.wait_for(lambda e: e["type"] == "stage.on" and e["user"] == "alice")

        await teacher.send({"type": "stage", "user": "alice", "on": False})
        await webhook_sink.wait_for(lambda e: e["type"] == "publish.stopped" and e["user"] == "alice")
        await webhook_sink.wait_for(lambda e: e["type"] == "stage.off" and e["user"] == "alice")
        assert sfu.sfu.rooms["live-42"].tracks() == []
    finally:
        for c in (teacher, alice, bob):
            await c.close()


async def test_h264_screen_share_and_speaking_indicator(sfu: RunningSfu, webhook_sink: WebhookSink) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await student.connect()
        await teacher.publish([SmallVideoTrack(), ToneTrack()], screen=True, video_codec="video/H264")
        video = await _first_track(student, "video")
        frame = await _decode(video)
        assert isinstance(frame, VideoFrame) and frame.width == 160
        assert sorted(t["kind"] for t in student.tracks.values()) == ["audio", "screen"]
        room = sfu.sfu.rooms["live-42"]
        assert {t.codec.name for t in room.tracks()} == {"H264", "opus"}
        speaking = await student.wait_for(lambda m: m["type"] == "speaking", timeout=15)
        assert speaking == {"type": "speaking", "user": "t1", "speaking": True}
        await webhook_sink.wait_for(
            lambda e: e["type"] == "publish.started" and e["data"] == {"kind": "screen"}
        )
        await webhook_sink.wait_for(lambda e: e["type"] == "speaking.started")
    finally:
        await teacher.close()
        await student.close()
