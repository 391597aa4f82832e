"""Live classes in the domain: who may join and when, SFU events → attendance, idempotency, bad events."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contracts.rooms import recording_key
from contracts.tokens import TokenError, verify_join_token
from courses import live
from courses.db import utcnow
from courses.errors import Forbidden, NotFound
from courses.models import Attendance, ChatMessage, LiveStatus, Recording, SfuEvent
from tests.live_support import event, live_course

SECRET = "unit-test-sfu-secret-0123456789abcdef"


def test_live_lesson_gets_a_session_when_scheduled(session, world):
    course, ls = live_course(session, world)
    assert ls.course_id == course.id and ls.status == LiveStatus.scheduled
    assert ls.room == f"live-{ls.id}"


@pytest.mark.parametrize(
    ("who", "role", "publish"),
    [
        ("student", "student", ()),
        ("teacher", "teacher", ("audio", "video", "screen")),
        ("instructor", "teacher", ("audio", "video", "screen")),
        ("school_admin", "admin", ("audio", "video", "screen")),
        ("office_admin", "admin", ("audio", "video", "screen")),
    ],
)
def test_join_tokens_name_room_user_role_and_publish_rights(session, world, who, role, publish):
    course, ls = live_course(session, world)
    grant = live.grant_join(session, world[who], ls, course, secret=SECRET)
    claims = verify_join_token(SECRET, grant.token, room=ls.room)
    assert (claims.user_id, claims.role, claims.publish, claims.name) == (
        str(world[who].id),
        role,
        publish,
        world[who].name,
    )
    assert claims.expires_at - claims.issued_at <= 300
    with pytest.raises(TokenError):
        verify_join_token(SECRET, grant.token, room="live-999999")
    with pytest.raises(TokenError):
        verify_join_token(SECRET, grant.token, now=claims.expires_at + 120)  # past the clock-skew leeway


@pytest.mark.parametrize(
    ("policy", "who", "mode"),
    [
        ("none", "teacher", ""),
        ("teacher_only", "teacher", "teacher"),
        ("full", "teacher", "stage"),
        ("full", "school_admin", "stage"),
        ("full", "student", ""),
    ],
)
def test_join_token_carries_the_recording_policy(session, world, policy, who, mode):
    from courses.models import RecordingPolicy

    course, ls = live_course(session, world)
    course.recording_policy = RecordingPolicy(policy)
    grant = live.grant_join(session, world[who], ls, course, secret=SECRET)
    assert verify_join_token(SECRET, grant.token).record == mode


def test_teacher_join_marks_the_session_live(session, world):
    course, ls = live_course(session, world)
    live.grant_join(session, world["teacher"], ls, course, secret=SECRET)
    assert ls.status == LiveStatus.live and ls.started_at is not None


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("parent", Forbidden),
        ("student2", NotFound),
        ("foreign_student", NotFound),
        ("teacher_b", NotFound),
        ("teacher2", NotFound),
    ],
)
def test_others_may_not_join(session, world, who, error):
    course, ls = live_course(session, world)
    with pytest.raises(error):
        _, c = live.get_live_session(session, world[who], ls.id)
        live.grant_join(session, world[who], ls, c, secret=SECRET)


def test_room_opens_minutes_before_for_students(session, world):
    course, ls = live_course(session, world, starts_in=timedelta(minutes=30))
    with pytest.raises(live.NotOpen, match="10분 전부터"):
        live.grant_join(session, world["student"], ls, course, secret=SECRET)
    live.grant_join(session, world["teacher"], ls, course, secret=SECRET)  # the teacher may set up early
    live.grant_join(
        session, world["student"], ls, course, secret=SECRET, now=ls.starts_at - timedelta(minutes=9)
    )


def test_ended_session_cannot_be_joined(session, world):
    course, ls = live_course(session, world)
    live.end_session(session, world["teacher"], ls, course)
    with pytest.raises(live.NotOpen):
        live.grant_join(session, world["student"], ls, course, secret=SECRET)
    with pytest.raises(Forbidden):
        live.end_session(session, world["student"], ls, course)


def _att(session, ls, user):
    return session.scalar(
        select(Attendance).where(Attendance.live_session_id == ls.id, Attendance.user_id == user.id)
    )


def test_events_become_attendance(session, world):
    course, ls = live_course(session, world, starts_in=timedelta(minutes=-40), minutes=40)
    s, t0 = world["student"], ls.starts_at
    for ev in [
        event(
            ls, "participant.joined", s, t0 - timedelta(minutes=3), name=s.name, role="student"
        ),  # lobby: clipped
        event(ls, "hand.raised", s, t0 + timedelta(minutes=5)),
        event(ls, "stage.on", s, t0 + timedelta(minutes=6)),
        event(ls, "publish.started", s, t0 + timedelta(minutes=6), kind="video"),
        event(ls, "speaking.started", s, t0 + timedelta(minutes=6, seconds=30)),
        event(ls, "speaking.stopped", s, t0 + timedelta(minutes=7)),
        event(ls, "speaking.started", s, t0 + timedelta(minutes=7, seconds=20)),
        event(ls, "publish.stopped", s, t0 + timedelta(minutes=8), kind="video"),
        event(ls, "speaking.stopped", s, t0 + timedelta(minutes=8, seconds=5)),
        event(ls, "stage.off", s, t0 + timedelta(minutes=9)),
        event(ls, "chat.message", s, t0 + timedelta(minutes=10), text="질문 있어요"),
        event(ls, "participant.left", s, t0 + timedelta(minutes=20), reason="timeout"),
        event(ls, "participant.joined", s, t0 + timedelta(minutes=21), name=s.name, role="student"),
        event(ls, "participant.left", s, t0 + timedelta(minutes=39), reason="bye"),
    ]:
        assert live.apply_sfu_event(session, ev) == "applied"
    a = _att(session, ls, s)
    assert a.present_seconds == (20 + 18) * 60
    assert a.stage_seconds == 3 * 60 and a.camera_seconds == 2 * 60
    assert a.talk_seconds == 30 + 45  # two stretches of speaking from the audio level
    assert (a.messages, a.hands_raised, a.joins) == (1, 1, 2)
    assert a.first_join_at == t0 - timedelta(minutes=3) and a.last_leave_at == t0 + timedelta(minutes=39)
    assert [m.text for m in session.scalars(select(ChatMessage))] == ["질문 있어요"]
    rows = {r.user.id: r for r in live.attendance_report(session, world["teacher"], ls, course)}
    assert rows[s.id].present_pct == 95 and rows[s.id].completed  # 38 of 40 minutes ≥ 85%
    absent = [r for uid, r in rows.items() if uid != s.id]
    assert len(absent) == 4 and all(r.attendance is None and not r.completed for r in absent)


def test_duplicates_and_out_of_order_delivery_change_nothing(session, world):
    course, ls = live_course(session, world, starts_in=timedelta(minutes=-30), minutes=30)
    s, t0 = world["student"], ls.starts_at
    evs = [
        event(ls, "participant.joined", s, t0 + timedelta(minutes=m))
        if i % 2 == 0
        else event(ls, "participant.left", s, t0 + timedelta(minutes=m))
        for i, m in enumerate([0, 10, 12, 25])
    ]
    shuffled = evs[:]
    random.Random(7).shuffle(shuffled)
    for ev in shuffled + shuffled[:2]:  # every order, and retries of the same ids
        live.apply_sfu_event(session, ev)
    assert session.scalar(select(func.count()).select_from(SfuEvent)) == 4
    assert _att(session, ls, s).present_seconds == (10 + 13) * 60


def test_overlapping_reconnect_counts_once(session, world):
    course, ls = live_course(session, world, starts_in=timedelta(minutes=-30), minutes=30)
    s, t0 = world["student"], ls.starts_at
    # An ICE restart in a second connection joins before the first one's leave arrives.
    for m, kind in [
        (0, "participant.joined"),
        (10, "participant.joined"),
        (11, "participant.left"),
        (20, "participant.left"),
    ]:
        live.apply_sfu_event(session, event(ls, kind, s, t0 + timedelta(minutes=m)))
    assert _att(session, ls, s).present_seconds == 20 * 60


def test_open_presence_is_closed_when_the_class_ends(session, world):
    course, ls = live_course(session, world, starts_in=timedelta(minutes=-10), minutes=40)
    live.apply_sfu_event(session, event(ls, "participant.joined", world["student"], ls.starts_at))
    live.end_session(session, world["teacher"], ls, course)
    a = _att(session, ls, world["student"])
    assert abs(a.present_seconds - (ls.ended_at - ls.starts_at).total_seconds()) <= 2


def test_recording_finished_is_listed(session, world):
    course, ls = live_course(session, world, recording="teacher_only")
    assert live.recording_enabled(course)
    key = recording_key(ls.room, utcnow(), "0123abcd", "video/webm")
    live.apply_sfu_event(
        session,
        event(
            ls,
            "recording.finished",
            None,
            utcnow(),
            object_key=key,
            content_type="video/webm",
            duration_s=61.5,
            size=123456,
        ),
    )
    [rec] = live.recordings(session, world["teacher"], ls, course)
    assert (rec.object_key, rec.duration_s, rec.size) == (key, 61.5, 123456)
    assert session.scalar(select(func.count()).select_from(Recording)) == 1


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(id="short"),
        lambda e: e.update(type="participant.exploded"),
        lambda e: e.update(room="room-1"),
        lambda e: e.update(at="yesterday"),
        lambda e: e.update(at="2026-11-22T10:00:00"),  # no offset
        lambda e: e.update(user="999999"),
        lambda e: e.update(user=""),
        lambda e: e.update(data=[1, 2]),
        lambda e: e.update(room="live-999999"),
    ],
)
def test_bad_events_are_refused_and_store_nothing(session, world, mutate):
    course, ls = live_course(session, world)
    ev = event(ls, "participant.joined", world["student"], utcnow())
    mutate(ev)
    with pytest.raises(live.BadEvent):
        live.apply_sfu_event(session, ev)
    assert session.scalar(select(func.count()).select_from(SfuEvent)) == 0


def test_non_object_body_is_refused(session, world):
    with pytest.raises(live.BadEvent):
        live.apply_sfu_event(session, ["not", "an", "object"])


def test_school_admin_sees_own_students_only(session, world):
    course, ls = live_course(session, world)
    rows = live.attendance_report(session, world["school_admin"], ls, course)
    assert rows and all(r.user.org_id == world.school.id for r in rows)
    with pytest.raises(Forbidden):
        live.attendance_report(session, world["student"], ls, course)
