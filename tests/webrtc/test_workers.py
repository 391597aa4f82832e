"""One SFU over two processes: the coordinator and a relay worker holding some of the subscribers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import AudioStreamTrack
from av import AudioFrame, VideoFrame
from sfu_helpers import SECRET, RunningSfu, SmallVideoTrack, WebhookSink, make_token, start_class, start_sfu
from test_e2e_media import _decode, _first_track

from webrtc import relay
from webrtc.client import SfuClient
from webrtc.config import SfuConfig
from webrtc.forward import Codec


@pytest.fixture
async def two_workers(webhook_sink: WebhookSink) -> AsyncIterator[RunningSfu]:
    config = SfuConfig(
        secret=SECRET, webhook_url=webhook_sink.url, ice_hosts=["127.0.0.1"], heartbeat_s=5, workers=2
    )
    running, runner = await start_sfu(config)
    yield running
    await runner.cleanup()


def _placed(sfu: RunningSfu, user: str) -> int:
    """Which process holds the user's subscribe connection (0: the coordinator)."""
    p = sfu.sfu.rooms["live-42"].participants[user]
    return 0 if p.worker is None else p.worker.index


async def _worker_metrics(sfu: RunningSfu, key: str, at_least: int, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            [doc] = sfu.sfu.metrics()["workers"]
            if doc.get(key, 0) >= at_least:
                return dict(doc)
            await asyncio.sleep(0.2)


async def test_teacher_reaches_students_on_both_processes(two_workers: RunningSfu) -> None:
    sfu = two_workers
    teacher = SfuClient(sfu.url, make_token("t1", "teacher", name="김선생"))
    students = [SfuClient(sfu.url, make_token(f"s{i}")) for i in (1, 2, 3)]
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        for s in students:
            await s.connect()
        # Least loaded first, ties stay with the coordinator: t1 here, s1 there, s2 here, s3 there.
        assert [_placed(sfu, u) for u in ("t1", "s1", "s2", "s3")] == [0, 1, 0, 1]
        await teacher.publish([SmallVideoTrack(), AudioStreamTrack()])
        for s in students:
            video = await _first_track(s, "video")
            assert isinstance(await _decode(video), VideoFrame)
            audio = await _first_track(s, "audio")
            assert isinstance(await _decode(audio), AudioFrame)
            assert sorted(t["kind"] for t in s.tracks.values()) == ["audio", "video"]
            assert {t["name"] for t in s.tracks.values()} == {"김선생"}
        doc = await _worker_metrics(sfu, "packets_out", 20)
        assert doc["worker"] == 1 and doc["alive"] is True
        assert doc["participants"] == 2 and doc["tracks"] == 2
        assert doc["relayed_in"] > 0
        # The coordinator forwarded to s2 itself and relayed to the worker.
        assert sfu.sfu.metrics()["packets_out"] > 0 and sfu.sfu.workers.relayed > 0
    finally:
        for c in [teacher, *students]:
            await c.close()


async def test_student_on_the_worker_goes_on_stage_and_is_heard(two_workers: RunningSfu) -> None:
    sfu = two_workers
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    alice = SfuClient(sfu.url, make_token("alice", name="앨리스"))
    bob = SfuClient(sfu.url, make_token("bob"))
    carol = SfuClient(sfu.url, make_token("carol"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        for c in (alice, bob, carol):
            await c.connect()
        assert [_placed(sfu, u) for u in ("alice", "bob", "carol")] == [1, 0, 1]
        await teacher.send({"type": "stage", "user": "alice", "on": True})
        await alice.wait_for(lambda m: m["type"] == "stage" and m["user"] == "alice" and m["on"])
        # alice publishes to the coordinator; carol (on the worker with her) and the teacher and bob (here) hear her.
        await alice.publish([AudioStreamTrack()])
        for c in (teacher, bob, carol):
            track = await _first_track(c, "audio")
            assert isinstance(await _decode(track), AudioFrame)
            assert [t["user"] for t in c.tracks.values()] == ["alice"]
        await teacher.send({"type": "stage", "user": "alice", "on": False})
        # Off stage: the next offer to carol (from the worker) no longer carries alice's microphone.
        await carol.wait_for(lambda m: m["type"] == "tracks" and m["tracks"] == [])
        async with asyncio.timeout(10):
            while sfu.sfu.workers.numbers:
                await asyncio.sleep(0.05)
    finally:
        for c in (teacher, alice, bob, carol):
            await c.close()


async def test_leaving_frees_the_workers_subscriber(two_workers: RunningSfu) -> None:
    sfu = two_workers
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    student = SfuClient(sfu.url, make_token("s1"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await student.connect()
        await teacher.publish([SmallVideoTrack()])
        await _decode(await _first_track(student, "video"))
        await _worker_metrics(sfu, "peer_connections", 1)
        await student.close()
        async with asyncio.timeout(10):
            while sfu.sfu.metrics()["workers"][0].get("peer_connections") != 0:
                await asyncio.sleep(0.2)
        assert not sfu.sfu.workers.links[0].viewers
    finally:
        await teacher.close()
        await student.close()


async def test_a_dead_worker_drops_its_subscribers_and_joins_go_elsewhere(two_workers: RunningSfu) -> None:
    sfu = two_workers
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    s1 = SfuClient(sfu.url, make_token("s1"))
    s2 = SfuClient(sfu.url, make_token("s2"))
    try:
        await teacher.connect()
        await teacher.send({"type": "start_class"})
        await s1.connect()
        assert _placed(sfu, "s1") == 1
        link = sfu.sfu.workers.links[0]
        os.kill(link.proc.pid, signal.SIGKILL)
        async with asyncio.timeout(10):
            while "s1" in sfu.sfu.rooms["live-42"].participants:
                await asyncio.sleep(0.05)
        assert not link.alive
        await s2.connect()
        assert _placed(sfu, "s2") == 0
        await teacher.publish([SmallVideoTrack()])
        assert isinstance(await _decode(await _first_track(s2, "video")), VideoFrame)
    finally:
        for c in (teacher, s1, s2):
            await c.close()


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json\n", b"[1, 2]\n", b'{"no_op": 1}\n', b'{"op": 5}\n', b"\xff\xfe\n"],
)
def test_unreadable_control_lines_are_refused(raw: bytes) -> None:
    assert relay.parse_line(raw) is None


def test_control_lines_and_codecs_round_trip() -> None:
    codec = Codec("video/VP8", 90000, None, (("x-google-start-bitrate", "500"),), 96)
    message = {"op": "track", "n": 3, "name": "김선생", "codec": relay.codec_to_json(codec)}
    back = relay.parse_line(relay.line(message))
    assert back == message
    assert relay.codec_from_json(back["codec"]) == codec


@pytest.mark.parametrize(
    "data",
    [{}, {"mime_type": "video/VP8"}, {"mime_type": "audio/opus", "clock_rate": "fast", "payload_type": 111}],
)
def test_a_codec_that_is_not_one_is_a_value_error(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        relay.codec_from_json(data)


async def test_one_prometheus_scrape_has_a_row_per_process(two_workers: RunningSfu) -> None:
    from test_prometheus import _scrape

    sfu = two_workers
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    students = [SfuClient(sfu.url, make_token(f"s{i}")) for i in (1, 2, 3)]
    try:
        await start_class(teacher, *students)
        await teacher.publish([SmallVideoTrack()])
        for s in students:
            assert isinstance(await _decode(await _first_track(s, "video")), VideoFrame)
        doc = await _worker_metrics(sfu, "packets_out", 20)
        scraped = await _scrape(sfu.http + "/metrics")
        assert scraped["ieum_sfu_worker_up"] == {(("worker", "0"),): 1, (("worker", "1"),): 1}
        # t1 and s2 here, s1 and s3 on the worker.
        assert scraped["ieum_sfu_subscribers"] == {(("worker", "0"),): 2, (("worker", "1"),): 2}
        assert scraped["ieum_sfu_packets_out"][(("worker", "1"),)] >= doc["packets_out"] > 0
        assert scraped["ieum_sfu_tracks"][(("worker", "1"),)] == 1
        assert scraped["ieum_sfu_resident_memory_bytes"][(("worker", "1"),)] > 10 * 2**20
        assert scraped["ieum_sfu_cpu_seconds"][(("worker", "1"),)] > 0
    finally:
        for c in [teacher, *students]:
            await c.close()
