"""The teacher's paged gallery: a student's camera off stage goes only to the teachers who have them on their
gallery page, on one SFU process and across two."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import test_rules
from aiortc import AudioStreamTrack
from av import VideoFrame
from sfu_helpers import SECRET, RunningSfu, SmallVideoTrack, WebhookSink, make_token, start_class, start_sfu
from test_e2e_media import _decode, _first_track

from contracts.roles import PublishKind, Role
from contracts.tokens import JoinClaims
from webrtc.client import SfuClient, SfuError
from webrtc.config import SfuConfig
from webrtc.forward import SourceTrack
from webrtc.room import Participant, Room
from webrtc.router import GALLERY_PAGE, wanted_by


def _claims(user: str, role: str) -> JoinClaims:
    publish = tuple(PublishKind) if role == "teacher" else ()
    return JoinClaims("r", user, user, Role(role), publish, 0, 300, "j")


def _track(owner: Participant, mid: str, kind: str = "video") -> SourceTrack:
    track = test_rules._track(owner, mid, kind)
    track.gallery = owner.in_gallery(kind)  # as peers.Publisher marks it when the track is negotiated
    return track


# (role, on stage, kind) -> (may publish, is a gallery camera)
PUBLISH_RULES = [
    ("teacher", False, "video", True, False),
    ("teacher", False, "screen", True, False),
    ("student", False, "video", True, True),
    ("student", False, "audio", False, False),
    ("student", False, "screen", False, False),
    ("student", True, "video", True, False),
    ("student", True, "audio", True, False),
    ("student", True, "screen", False, False),
]


@pytest.mark.parametrize(("role", "on_stage", "kind", "allowed", "gallery"), PUBLISH_RULES)
def test_who_publishes_what_and_which_camera_is_a_gallery_camera(
    role: str, on_stage: bool, kind: str, allowed: bool, gallery: bool
) -> None:
    p = Participant(_claims("u", role), on_stage=on_stage)
    assert p.may_publish(kind) is allowed
    assert p.in_gallery(kind) is gallery


def test_gallery_cameras_go_only_to_whoever_looks_at_them() -> None:
    room = Room("r", started=True)
    teacher, other_teacher, alice, bob, carol = (
        Participant(_claims("t", "teacher")),
        Participant(_claims("t2", "teacher")),
        Participant(_claims("alice", "student")),
        Participant(_claims("bob", "student")),
        Participant(_claims("carol", "student"), on_stage=True),
    )
    for p in (teacher, other_teacher, alice, bob, carol):
        room.add(p)
    cam, mic = _track(teacher, "0"), _track(teacher, "1", "audio")
    alice_cam, bob_cam = _track(alice, "0"), _track(bob, "0")
    carol_cam = _track(carol, "0")  # on stage: to everyone
    assert alice_cam.gallery and bob_cam.gallery and not carol_cam.gallery
    everyone = {cam.id, mic.id, carol_cam.id}
    assert set(wanted_by(room, teacher)) == {carol_cam.id}  # looking at nobody yet
    teacher.looking = frozenset({"alice"})
    assert set(wanted_by(room, teacher)) == {carol_cam.id, alice_cam.id}
    assert set(wanted_by(room, other_teacher)) == {cam.id, mic.id, carol_cam.id}  # their own page is empty
    # Students never receive each other's gallery cameras, whatever they claim to look at.
    bob.looking = frozenset({"alice"})
    for student in (alice, bob):
        assert set(wanted_by(room, student)) == everyone
    teacher.looking = frozenset({"alice", "bob"})
    assert set(wanted_by(room, teacher)) == {carol_cam.id, alice_cam.id, bob_cam.id}


@pytest.fixture(params=[1, 2], ids=["one process", "two processes"])
async def sfu_k(request: pytest.FixtureRequest, webhook_sink: WebhookSink) -> AsyncIterator[RunningSfu]:
    config = SfuConfig(
        secret=SECRET,
        webhook_url=webhook_sink.url,
        ice_hosts=["127.0.0.1"],
        heartbeat_s=5,
        workers=int(request.param),
    )
    running, runner = await start_sfu(config)
    yield running
    await runner.cleanup()


def _kinds(client: SfuClient) -> list[tuple[str, str]]:
    return sorted((t["user"], t["kind"]) for t in client.tracks.values())


async def _tracks_become(client: SfuClient, expected: list[tuple[str, str]], start: int = 0) -> None:
    """Wait for a ``tracks`` message (from ``start``) listing exactly these (user, kind) pairs."""
    await client.wait_for(
        lambda m: m["type"] == "tracks" and sorted((t["user"], t["kind"]) for t in m["tracks"]) == expected,
        timeout=15,
        start=start,
    )


async def test_a_students_camera_reaches_the_teacher_only_while_on_their_gallery_page(
    sfu_k: RunningSfu, webhook_sink: WebhookSink
) -> None:
    sfu = sfu_k
    teacher = SfuClient(sfu.url, make_token("t1", "teacher", name="김선생"))
    alice = SfuClient(sfu.url, make_token("alice", name="앨리스"))
    bob = SfuClient(sfu.url, make_token("bob"))
    try:
        await start_class(teacher, alice, bob)
        await teacher.publish([SmallVideoTrack()])
        await _tracks_become(bob, [("t1", "video")])

        # Off stage: a microphone is refused, the camera alone is taken — and forwarded to nobody yet.
        with pytest.raises(SfuError) as refused:
            await alice.publish([AudioStreamTrack()])
        assert refused.value.code == "publish_denied"
        assert alice.publish_pc is not None
        await alice.publish_pc.close()
        alice.publish_pc = None
        await alice.publish([SmallVideoTrack()])
        await webhook_sink.wait_for(
            lambda e: (
                e["type"] == "publish.started" and e["user"] == "alice" and e["data"] == {"kind": "video"}
            )
        )
        room = sfu.sfu.rooms["live-42"]
        [alice_cam] = room.participants["alice"].tracks.values()
        assert alice_cam.gallery

        # The teacher's gallery page shows alice: her camera comes, labelled as a gallery tile, and decodes.
        start = len(teacher.messages)
        await teacher.send({"type": "gallery", "users": ["alice", "bob", "nobody"]})
        await _tracks_become(teacher, [("alice", "gallery")], start)
        assert room.participants["t1"].looking == {"alice", "bob"}  # unknown users are not kept
        frame = await _decode(await _first_track(teacher, "video"))
        assert isinstance(frame, VideoFrame) and frame.width == 160

        # bob (a student) never gets it, even by asking.
        await bob.send({"type": "gallery", "users": ["alice"]})
        await bob.wait_for(lambda m: m["type"] == "error" and m["code"] == "forbidden")
        assert ("alice", "gallery") not in _kinds(bob)

        # Another page: alice's camera is taken off the teacher's subscription.
        start = len(teacher.messages)
        await teacher.send({"type": "gallery", "users": ["bob"]})
        await _tracks_become(teacher, [], start)

        # On stage, alice publishes again (microphone and camera), now to everyone.
        await teacher.send({"type": "gallery", "users": ["alice"]})
        await _tracks_become(teacher, [("alice", "gallery")])
        await teacher.send({"type": "stage", "user": "alice", "on": True})
        await alice.wait_for(lambda m: m["type"] == "stage" and m["on"])
        await webhook_sink.wait_for(lambda e: e["type"] == "publish.stopped" and e["user"] == "alice")
        assert room.participants["alice"].tracks == {}
        await alice.republish([SmallVideoTrack(), AudioStreamTrack()])
        await _tracks_become(bob, [("alice", "audio"), ("alice", "video"), ("t1", "video")])
        await _tracks_become(teacher, [("alice", "audio"), ("alice", "video")])
    finally:
        for c in (teacher, alice, bob):
            await c.close()


def _many(n: int) -> list[str]:
    return [f"s{i}" for i in range(n)]


# (message, error code or None when taken)
GALLERY_MESSAGES: list[tuple[dict[str, Any], str | None]] = [
    ({"type": "gallery", "users": []}, None),
    ({"type": "gallery", "users": _many(GALLERY_PAGE)}, None),
    ({"type": "gallery", "users": _many(GALLERY_PAGE + 1)}, "bad_message"),
    ({"type": "gallery"}, "bad_message"),
    ({"type": "gallery", "users": "alice"}, "bad_message"),
    ({"type": "gallery", "users": [1, 2]}, "bad_message"),
    ({"type": "gallery", "users": [None]}, "bad_message"),
    ({"type": "gallery", "users": ["x" * 65]}, "bad_message"),
    ({"type": "gallery", "users": {"alice": True}}, "bad_message"),
]


async def test_gallery_messages_are_checked(sfu: RunningSfu) -> None:
    teacher = SfuClient(sfu.url, make_token("t1", "teacher"))
    try:
        await teacher.connect()
        for message, code in GALLERY_MESSAGES:
            start = len(teacher.messages)
            await teacher.send(message)
            # An unknown message after each one: its error proves the one before it was handled.
            await teacher.send({"type": "barrier"})
            await teacher.wait_for(lambda m: m.get("code") == "unknown_type", start=start)
            errors = [m["code"] for m in teacher.messages[start:] if m["type"] == "error"][:-1]
            assert errors == ([code] if code else []), message
        assert sfu.sfu.rooms["live-42"].participants["t1"].looking == frozenset()
    finally:
        await teacher.close()
