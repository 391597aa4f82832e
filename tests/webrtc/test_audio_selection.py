"""Whose microphone is forwarded: every teacher's, and the loudest few unmuted students' (RFC 6464 levels),
decided in the router and obeyed by the forwarding path."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from contracts.roles import Role
from contracts.tokens import JoinClaims
from webrtc import router
from webrtc.room import Participant, Room


def _participant(user: str, role: Role, loudness: float, muted: bool = False) -> Participant:
    claims = JoinClaims("live-1", user, user, role, ("audio",), 0, 1, f"jti-{user}")
    p = Participant(claims=claims)
    p.speaking._score = loudness
    p.muted_by = "t" if muted else None
    p.tracks["a"] = cast(Any, SimpleNamespace(id=f"{user}:a", kind="audio", muted=False))
    p.tracks["v"] = cast(Any, SimpleNamespace(id=f"{user}:v", kind="video", muted=False))
    return p


def _room(*people: Participant) -> Room:
    room = Room("live-1")
    for p in people:
        room.participants[p.user] = p
    return room


def _forwarded(room: Room) -> set[str]:
    return {p.user for p in room.participants.values() if not p.tracks["a"].muted}


@pytest.mark.parametrize(
    ("students", "heard"),
    [
        # (user, loudness, muted) → the students whose microphone is forwarded besides the teacher's
        (
            [("s1", 0.9, False), ("s2", 0.8, False), ("s3", 0.7, False), ("s4", 0.1, False)],
            {"s1", "s2", "s3"},
        ),
        ([("s1", 0.0, False), ("s2", 0.0, False)], {"s1", "s2"}),  # fewer than LOUDEST: all of them
        ([("s1", 1.0, True), ("s2", 0.2, False), ("s3", 0.1, False), ("s4", 0.0, False)], {"s2", "s3", "s4"}),
        (
            [("s1", 0.5, False), ("s2", 0.6, False), ("s3", 0.9, False), ("s4", 0.7, False)],
            {"s2", "s3", "s4"},
        ),
    ],
)
def test_the_teacher_and_the_loudest_students_are_heard(
    students: list[tuple[str, float, bool]], heard: set[str]
) -> None:
    assert router.LOUDEST == 3
    room = _room(
        _participant("t", Role.teacher, 0.0), *(_participant(u, Role.student, x, m) for u, x, m in students)
    )
    router.Router(cast(Any, None)).update_audio(room)
    assert _forwarded(room) == {"t"} | heard
    # Video is never held back by this decision.
    assert all(not p.tracks["v"].muted for p in room.participants.values())


def test_a_heard_speaker_is_replaced_only_by_a_clearly_louder_one() -> None:
    people = [
        _participant(u, Role.student, x) for u, x in (("s1", 0.6), ("s2", 0.6), ("s3", 0.6), ("s4", 0.2))
    ]
    room = _room(_participant("t", Role.teacher, 0.0), *people)
    r = router.Router(cast(Any, None))
    r.update_audio(room)
    assert _forwarded(room) == {"t", "s1", "s2", "s3"}
    people[3].speaking._score = 0.65  # louder than s1–s3, but within the margin: no flapping
    r.update_audio(room)
    assert "s4" not in _forwarded(room)
    people[3].speaking._score = 0.9
    people[0].speaking._score = 0.3
    r.update_audio(room)
    assert _forwarded(room) == {"t", "s2", "s3", "s4"}


def test_a_muted_teacher_is_not_heard_and_levels_rerank_at_most_every_interval() -> None:
    room = _room(_participant("t", Role.teacher, 0.0, muted=True), _participant("s1", Role.student, 0.0))
    r = router.Router(cast(Any, None))
    r.levels_moved(room, now=100.0)
    assert _forwarded(room) == {"s1"}
    room.participants["s1"].muted_by = "t"
    r.levels_moved(room, now=100.0 + router.RERANK_S / 2)  # too soon: unchanged
    assert _forwarded(room) == {"s1"}
    r.levels_moved(room, now=100.0 + router.RERANK_S)
    assert _forwarded(room) == set()
