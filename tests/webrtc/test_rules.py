"""Pure helpers and rules: SDP inspection, codec matching, NAT announcement, speaking, lobby, the fan-out policy."""

from __future__ import annotations

from typing import cast

import pytest
from aiortc import RTCRtpReceiver

from contracts.tokens import JoinClaims
from webrtc.forward import Codec, Counters, SourceTrack, Transport
from webrtc.ice import announce
from webrtc.peers import match_capability, sending_media
from webrtc.room import Participant, Room, SpeakingDetector
from webrtc.router import wanted_by

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=sendonly",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:1",
        "a=sendrecv",
        "m=video 0 UDP/TLS/RTP/SAVPF 96",
        "a=mid:2",
        "a=sendonly",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:3",
        "a=inactive",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=mid:4",
        "",
    ]
)


def test_sending_media_lists_what_the_offer_sends() -> None:
    assert sending_media(OFFER) == [("0", "audio"), ("1", "video")]
    with pytest.raises(ValueError):
        sending_media("hello")
    with pytest.raises(ValueError):
        sending_media("v=0\r\ns=-\r\n")


def test_codec_matching_for_subscribers() -> None:
    caps = RTCRtpReceiver.getCapabilities("video")
    assert caps is not None
    vp8 = match_capability(caps.codecs, Codec("video/VP8", 90000, None, (), 96))
    assert vp8 is not None and vp8.mimeType == "video/VP8"
    h264 = Codec(
        "video/H264", 90000, None, (("packetization-mode", "1"), ("profile-level-id", "42e01f")), 102
    )
    chosen = match_capability(caps.codecs, h264)
    assert chosen is not None and chosen.parameters["profile-level-id"] == "42e01f"
    assert match_capability(caps.codecs, Codec("video/AV1", 90000, None, (), 45)) is None


def test_announce_rewrites_host_candidates_only() -> None:
    sdp = "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\na=candidate:2 1 udp 1694498815 1.2.3.4 40000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
    out = announce(sdp, "203.0.113.7")
    assert "203.0.113.7 40000 typ host" in out and "1.2.3.4 40000 typ srflx" in out
    assert announce(sdp, None) == sdp


def test_speaking_detector_hysteresis() -> None:
    d = SpeakingDetector()
    assert all(d.update(127) is None for _ in range(50))
    changes = [d.update(30) for _ in range(30)]
    assert changes.count(True) == 1 and d.speaking
    changes = [d.update(127) for _ in range(40)]
    assert changes.count(False) == 1 and not d.speaking


def _claims(user: str, role: str) -> JoinClaims:
    publish = ("audio", "video", "screen") if role == "teacher" else ()
    return JoinClaims("r", user, user, role, publish, 0, 300, "j")


def test_lobby_and_publish_rules() -> None:
    room = Room("r")
    teacher, student = Participant(_claims("t", "teacher")), Participant(_claims("s", "student"))
    room.add(teacher)
    room.add(student)
    assert student.in_lobby and not teacher.in_lobby
    assert teacher.may_publish("screen") and not student.may_publish("audio")
    student.on_stage = True
    assert student.may_publish("audio") and student.may_publish("video") and not student.may_publish("screen")
    assert wanted_by(room, student) == {}  # still in the lobby
    assert [p["user"] for p in room.roster()] == ["t", "s"]


def _track(owner: Participant, mid: str, kind: str = "video") -> SourceTrack:
    track = SourceTrack(
        track_id=f"{owner.user}:{mid}",
        owner=owner.user,
        kind=kind,
        source=kind,
        codec=Codec("video/VP8", 90000, None, (), 96),
        ssrc=None,
        mid=mid,
        publisher=cast(Transport, None),  # never sent to here
        counters=Counters(),
    )
    owner.tracks[mid] = track
    return track


def test_router_forwards_every_track_but_ones_own_once_out_of_the_lobby() -> None:
    room = Room("r")
    teacher, speaker, listener = (
        Participant(_claims("t", "teacher")),
        Participant(_claims("s1", "student")),
        Participant(_claims("s2", "student")),
    )
    for p in (teacher, speaker, listener):
        room.add(p)
    camera, screen, mic = _track(teacher, "0"), _track(teacher, "1"), _track(speaker, "0", "audio")
    assert wanted_by(room, listener) == {}  # in the lobby
    room.started = True
    listener.in_lobby = speaker.in_lobby = False
    assert wanted_by(room, listener) == {camera.id: camera, screen.id: screen, mic.id: mic}
    assert wanted_by(room, speaker) == {camera.id: camera, screen.id: screen}
    assert wanted_by(room, teacher) == {mic.id: mic}
    listener.left = True
    assert wanted_by(room, listener) == {}
