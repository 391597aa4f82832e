"""Live classes: scheduling, who may join (signed join tokens), SFU events → attendance, the report.

The SFU never touches the database: it reports joins, leaves, stage and camera time, hands, chat and
recordings by signed webhooks. Each event is stored once by its id, and a person's attendance row is
recomputed from all of their events, so retries, duplicates and out-of-order delivery change nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from contracts.roles import PublishKind, RecordMode, Role, token_publish_rights
from contracts.rooms import INT64_MAX, is_recording_key_for, live_session_id
from contracts.tokens import MAX_TTL_S, issue_join_token
from contracts.webhooks import MAX_CHAT_CHARS, EventType, parse_event_type
from courses.db import utcnow
from courses.errors import N_, DomainError, Forbidden, NotFound
from courses.models import (
    Attendance,
    ChatMessage,
    ClassMembership,
    Course,
    CourseStatus,
    Enrolment,
    Lesson,
    LessonKind,
    LiveSession,
    LiveStatus,
    MemberRole,
    Recording,
    RecordingPolicy,
    SchoolClass,
    SfuEvent,
    User,
)
from courses.models import Role as UserRole
from courses.policy import RULES, get_course, relations, results_school

# Events whose effect can wait for the person's next event (which every speaking.started has: its stopped, or
# the leave): skipping the recompute halves the work for the chattiest ones (speaking toggles every few seconds).
PASSIVE_EVENTS = frozenset({EventType.speaking_started, EventType.hand_lowered})
JOIN_GRACE = timedelta(minutes=30)  # a class that overruns can still be (re)joined for a while


class NotOpen(DomainError):
    """The live room is not open at this time."""

    status = 409


def sync_live_session(session: Session, lesson: Lesson) -> LiveSession | None:
    """Keep a live lesson's session in step with its schedule (created once both times are set)."""
    if lesson.kind != LessonKind.live or lesson.starts_at is None or lesson.ends_at is None:
        return None
    live = session.scalar(select(LiveSession).where(LiveSession.lesson_id == lesson.id))
    if live is None:
        live = LiveSession(
            course_id=lesson.course_id,
            lesson_id=lesson.id,
            starts_at=lesson.starts_at,
            ends_at=lesson.ends_at,
        )
        session.add(live)
    elif live.status == LiveStatus.scheduled:
        live.starts_at, live.ends_at = lesson.starts_at, lesson.ends_at
    session.flush()
    return live


def get_live_session(session: Session, actor: User, live_id: int) -> tuple[LiveSession, Course]:
    """The live session if the actor may see its course; NotFound otherwise."""
    live = session.get(LiveSession, live_id)
    if live is None:
        raise NotFound()
    return live, get_course(session, actor, live.course_id)


# The policy's live-room actions and the role each gives in the room (the SFU's roles).
LIVE_ROLES = (("moderate_live", Role.admin), ("teach_live", Role.teacher), ("attend_live", Role.student))


def live_role(session: Session, actor: User, course: Course) -> Role:
    """teacher (runs the class), admin (owns the course, may moderate) or student (enrolled); else Forbidden."""
    rels = relations(session, actor, course)
    for action, role in LIVE_ROLES:
        if rels & RULES[action].who:
            return role
    raise Forbidden(N_("이 수업에 참여할 수 없습니다."))


@dataclass(frozen=True)
class JoinGrant:
    """What the browser needs to join: a short-lived token for this room and where the SFU is."""

    token: str
    room: str
    role: Role
    expires_in: int


def grant_join(
    session: Session,
    actor: User,
    live: LiveSession,
    course: Course,
    *,
    secret: str,
    now: datetime | None = None,
    ttl_s: int = MAX_TTL_S,
) -> JoinGrant:
    """Check access and the time window, then sign a join token (≤ 5 minutes to join, single use)."""
    now = now or utcnow()
    role = live_role(session, actor, course)
    if course.status not in (CourseStatus.approved, CourseStatus.running):
        raise NotOpen(N_("운영 중인 강좌가 아닙니다."))
    opens = live.starts_at - timedelta(minutes=live.opens_minutes_before)
    if live.status == LiveStatus.ended or now > live.ends_at + JOIN_GRACE:
        raise NotOpen(N_("이미 끝난 수업입니다."))
    if now < opens and role is Role.student:
        raise NotOpen(N_("수업 시작 %(m)d분 전부터 입장할 수 있습니다."), m=live.opens_minutes_before)
    token = issue_join_token(
        secret,
        room=live.room,
        user_id=str(actor.id),
        name=actor.name,
        role=role,
        publish=token_publish_rights(role),
        ttl_s=ttl_s,
        now=now.timestamp(),
        record=sfu_record_mode(course) if role.runs_class else RecordMode.none,
    )
    if role is Role.teacher and live.status == LiveStatus.scheduled:
        live.status, live.started_at = LiveStatus.live, now
    return JoinGrant(token=token, room=live.room, role=role, expires_in=ttl_s)


def recording_enabled(course: Course) -> bool:
    """Whether the course's recording policy asks the SFU to record."""
    return course.recording_policy != RecordingPolicy.none


# How long after a recorded class ends its recording may still be on its way (the SFU stores it, then says so).
RECORDING_ARRIVES_WITHIN = timedelta(minutes=5)


def awaiting_recording(live: LiveSession, course: Course, now: datetime) -> bool:
    """Whether a recording of this class is probably still being stored: it was recorded and ended just now."""
    if not recording_enabled(course) or live.status != LiveStatus.ended or live.ended_at is None:
        return False
    return now - live.ended_at < RECORDING_ARRIVES_WITHIN


def sfu_record_mode(course: Course) -> RecordMode:
    """The course's recording policy as the ``record`` claim of a teacher's join token."""
    return {RecordingPolicy.teacher_only: RecordMode.teacher, RecordingPolicy.full: RecordMode.stage}.get(
        course.recording_policy, RecordMode.none
    )


def end_session(session: Session, actor: User, live: LiveSession, course: Course) -> None:
    """The teacher ends the class; open attendance intervals are closed at that moment."""
    if not live_role(session, actor, course).runs_class:
        raise Forbidden()
    live.status, live.ended_at = LiveStatus.ended, utcnow()
    for uid in session.scalars(
        select(SfuEvent.user_id).where(SfuEvent.live_session_id == live.id).distinct()
    ):
        if uid is not None:
            _recompute(session, live, uid)


class BadEvent(ValueError):
    """A webhook body that is not a well-formed SFU event."""


# Bounds of what a signed webhook may say: the signature proves who sent it, not that it is sane.
EVENT_MAX_AGE = timedelta(days=7)  # webhooks are retried until acknowledged, so an app outage delays them
EVENT_MAX_AHEAD = timedelta(minutes=5)  # clock skew between the SFU and the app hosts
MAX_RECORDING_BYTES = 50 * 2**30
MAX_RECORDING_SECONDS = 24 * 3600
MAX_RECORDING_TRACKS = 64
MAX_NAME_CHARS = 200
MAX_SHORT_CHARS = 40  # leave reasons, track kinds and codecs, ISO-8601 times
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_USER_ID = re.compile(r"[1-9][0-9]{0,18}")
# The data fields each event type may carry; anything else is refused.
_DATA_FIELDS: dict[EventType, frozenset[str]] = {
    EventType.participant_joined: frozenset({"name", "role"}),
    EventType.participant_left: frozenset({"reason"}),
    EventType.publish_started: frozenset({"kind"}),
    EventType.publish_stopped: frozenset({"kind"}),
    EventType.chat_message: frozenset({"text"}),
    EventType.recording_finished: frozenset(
        {"object_key", "content_type", "duration_s", "size", "started_at", "tracks"}
    ),
}


@dataclass(frozen=True)
class IncomingEvent:
    """A webhook body that passed every check that needs no database."""

    event_id: str
    type: EventType
    room: str
    live_id: int
    user_id: int | None
    at: datetime
    data: dict[str, Any]


def _is_int(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _is_number(value: object, lo: float, hi: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and lo <= value <= hi
    )


def _is_text(value: object, max_chars: int) -> bool:
    return isinstance(value, str) and len(value) <= max_chars


def _time(value: object, what: str, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > MAX_SHORT_CHARS:
        raise BadEvent(f"{what} must be an ISO-8601 time")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadEvent(f"{what} must be an ISO-8601 time") from None
    if when.tzinfo is None:
        raise BadEvent(f"{what} must carry a UTC offset")
    if not now - EVENT_MAX_AGE <= when <= now + EVENT_MAX_AHEAD:
        raise BadEvent(f"{what} is outside the accepted window (7 days ago to 5 minutes ahead)")
    return when


def _check_data(etype: EventType, room: str, data: dict[str, Any], now: datetime) -> None:
    unexpected = sorted(str(k) for k in data if k not in _DATA_FIELDS.get(etype, frozenset()))
    if unexpected:
        raise BadEvent(f"unexpected data fields {unexpected!r} for {etype}")
    if etype is EventType.participant_joined:
        if "name" in data and not _is_text(data["name"], MAX_NAME_CHARS):
            raise BadEvent(f"data.name must be a string of at most {MAX_NAME_CHARS} characters")
        if "role" in data and data["role"] not in tuple(Role):
            raise BadEvent("data.role must be a participant role")
    elif etype is EventType.participant_left:
        if "reason" in data and not _is_text(data["reason"], MAX_SHORT_CHARS):
            raise BadEvent(f"data.reason must be a string of at most {MAX_SHORT_CHARS} characters")
    elif etype in (EventType.publish_started, EventType.publish_stopped):
        if data.get("kind") not in tuple(PublishKind):
            raise BadEvent("data.kind must be audio, video or screen")
    elif etype is EventType.chat_message:
        if not _is_text(data.get("text"), MAX_CHAT_CHARS):
            raise BadEvent(f"data.text must be a string of at most {MAX_CHAT_CHARS} characters")
    elif etype is EventType.recording_finished:
        if not is_recording_key_for(data.get("object_key"), room, data.get("content_type")):
            raise BadEvent(
                "data.object_key must be the key the platform builds for this room's recording "
                "(recordings/<room>/<UTC start>-<8 hex digits>.webm|.mkv, matching data.content_type)"
            )
        if not _is_number(data.get("duration_s"), 0, MAX_RECORDING_SECONDS):
            raise BadEvent(f"data.duration_s must be a number of seconds from 0 to {MAX_RECORDING_SECONDS}")
        if not _is_int(data.get("size"), 0, MAX_RECORDING_BYTES):
            raise BadEvent(f"data.size must be a whole number of bytes from 0 to {MAX_RECORDING_BYTES}")
        if "started_at" in data:
            _time(data["started_at"], "data.started_at", now)
        tracks = data.get("tracks", [])
        if not isinstance(tracks, list) or len(tracks) > MAX_RECORDING_TRACKS:
            raise BadEvent(f"data.tracks must be a list of at most {MAX_RECORDING_TRACKS} tracks")
        for t in tracks:
            if not (
                isinstance(t, dict)
                and set(t) <= {"kind", "codec", "frames", "dropped_frames"}
                and all(_is_text(t.get(k, ""), MAX_SHORT_CHARS) for k in ("kind", "codec"))
                and all(_is_int(t.get(k, 0), 0, INT64_MAX) for k in ("frames", "dropped_frames"))
            ):
                raise BadEvent("data.tracks entries must be {kind, codec, frames, dropped_frames}")


def _parse_event(payload: Any, now: datetime) -> IncomingEvent:
    if not isinstance(payload, dict):
        raise BadEvent("body must be a JSON object")
    event_id, etype, room, user, at, data = (
        payload.get(k) for k in ("id", "type", "room", "user", "at", "data")
    )
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise BadEvent("id must be 8-64 letters, digits, '-' or '_'")
    event_type = parse_event_type(etype)
    if event_type is None:
        raise BadEvent(f"unknown event type {str(etype)[:MAX_SHORT_CHARS]!r}")
    live_id = live_session_id(room)
    if live_id is None:
        raise BadEvent("room must look like live-<id> (a positive 64-bit id)")
    assert isinstance(room, str)
    if user is None or user == "":
        user_id = None
        if event_type is not EventType.recording_finished:
            raise BadEvent("user is required")
    elif isinstance(user, str) and _USER_ID.fullmatch(user) and int(user) <= INT64_MAX:
        user_id = int(user)
    else:
        raise BadEvent("user must be a user id (a positive 64-bit integer as a string)")
    when = _time(at, "at", now)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadEvent("data must be an object")
    _check_data(event_type, room, data, now)
    return IncomingEvent(event_id, event_type, room, live_id, user_id, when, data)


def apply_sfu_event(session: Session, payload: Any, *, now: datetime | None = None) -> str:
    """Store one SFU event (once per id) and update what it affects; returns 'applied' or 'duplicate'.

    Raises BadEvent, having written nothing, for a body that is malformed or out of bounds.
    """
    ev = _parse_event(payload, now or utcnow())
    if session.scalar(select(SfuEvent.id).where(SfuEvent.event_id == ev.event_id)) is not None:
        return "duplicate"
    live = session.get(LiveSession, ev.live_id)
    if live is None:
        raise BadEvent("unknown room")
    user_id = ev.user_id
    if user_id is not None and session.get(User, user_id) is None:
        raise BadEvent("unknown user")
    data = ev.data
    if ev.type is EventType.recording_finished and session.scalar(
        select(Recording.id).where(Recording.object_key == data["object_key"])
    ):
        raise BadEvent("this recording is already listed")
    session.add(
        SfuEvent(
            event_id=ev.event_id, live_session_id=live.id, user_id=user_id, type=ev.type, at=ev.at, data=data
        )
    )
    if ev.type is EventType.chat_message and user_id is not None:
        session.add(ChatMessage(live_session_id=live.id, user_id=user_id, text=data["text"], at=ev.at))
    elif ev.type is EventType.recording_finished:
        session.add(
            Recording(
                live_session_id=live.id,
                object_key=data["object_key"],
                content_type=data["content_type"],
                duration_s=float(data["duration_s"]),
                size=data["size"],
            )
        )
    session.flush()
    if user_id is not None and ev.type not in PASSIVE_EVENTS:
        _recompute(session, live, user_id)
    return "applied"


def _union_seconds(intervals: list[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> int:
    """Total seconds covered by the intervals inside [lo, hi], overlaps counted once."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in intervals if b > lo and a < hi)
    total = 0.0
    cur_a: datetime | None = None
    cur_b: datetime | None = None
    for a, b in clipped:
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return int(total)


def _recompute(session: Session, live: LiveSession, user_id: int) -> Attendance:
    events = list(
        session.scalars(
            select(SfuEvent)
            .where(SfuEvent.live_session_id == live.id, SfuEvent.user_id == user_id)
            .order_by(SfuEvent.at, SfuEvent.id)
        )
    )
    horizon = live.ended_at or min(utcnow(), live.ends_at)
    presence: list[tuple[datetime, datetime]] = []
    stage: list[tuple[datetime, datetime]] = []
    camera: list[tuple[datetime, datetime]] = []
    talk: list[tuple[datetime, datetime]] = []
    opened: dict[str, datetime | None] = {"presence": None, "stage": None, "camera": None, "talk": None}
    intervals = {"presence": presence, "stage": stage, "camera": camera, "talk": talk}
    # Presence nests: an ICE restart or a second tab may join again before the old leave arrives.
    depth = 0
    counts = {"messages": 0, "hands": 0, "joins": 0}
    first_join: datetime | None = None
    last_leave: datetime | None = None

    def open_(kind: str, at: datetime) -> None:
        if opened[kind] is None:
            opened[kind] = at

    def close(kind: str, at: datetime) -> None:
        start = opened[kind]
        if start is not None:
            intervals[kind].append((start, at))
            opened[kind] = None

    for ev in events:
        if ev.type == "participant.joined":
            depth += 1
            counts["joins"] += 1
            first_join = first_join or ev.at
            open_("presence", ev.at)
        elif ev.type == "participant.left":
            depth = max(0, depth - 1)
            last_leave = ev.at
            if depth == 0:
                for kind in intervals:
                    close(kind, ev.at)
        elif ev.type == "stage.on":
            open_("stage", ev.at)
        elif ev.type == "stage.off":
            close("stage", ev.at)
        elif ev.type == "publish.started" and ev.data.get("kind") == "video":
            open_("camera", ev.at)
        elif ev.type == "publish.stopped" and ev.data.get("kind") == "video":
            close("camera", ev.at)
        elif ev.type == "speaking.started":
            open_("talk", ev.at)
        elif ev.type == "speaking.stopped":
            close("talk", ev.at)
        elif ev.type == "chat.message":
            counts["messages"] += 1
        elif ev.type == "hand.raised":
            counts["hands"] += 1
    for kind in intervals:
        close(kind, max(horizon, opened[kind] or horizon))
    row = session.scalar(
        select(Attendance).where(Attendance.live_session_id == live.id, Attendance.user_id == user_id)
    )
    if row is None:
        row = Attendance(live_session_id=live.id, user_id=user_id)
        session.add(row)
    row.first_join_at, row.last_leave_at, row.joins = first_join, last_leave, counts["joins"]
    row.present_seconds = _union_seconds(presence, live.starts_at, live.ends_at)
    row.stage_seconds = _union_seconds(stage, live.starts_at, live.ends_at)
    row.camera_seconds = _union_seconds(camera, live.starts_at, live.ends_at)
    row.talk_seconds = _union_seconds(talk, live.starts_at, live.ends_at)
    row.messages, row.hands_raised = counts["messages"], counts["hands"]
    session.flush()
    return row


@dataclass(frozen=True)
class AttendanceRow:
    """One line of a session's attendance report."""

    user: User
    class_label: str
    number: int | None
    attendance: Attendance | None
    present_pct: int
    completed: bool


def attendance_report(
    session: Session, actor: User, live: LiveSession, course: Course
) -> list[AttendanceRow]:
    """Every enrolled student (absent ones too) with their minutes; a school sees only its own students."""
    school_id = results_school(session, actor, course)
    scheduled = max(1.0, (live.ends_at - live.starts_at).total_seconds())
    stmt = (
        select(User, SchoolClass, ClassMembership.number, Attendance)
        .join(Enrolment, and_(Enrolment.student_id == User.id, Enrolment.course_id == course.id))
        .join(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
            isouter=True,
        )
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id, isouter=True)
        .join(
            Attendance,
            and_(Attendance.user_id == User.id, Attendance.live_session_id == live.id),
            isouter=True,
        )
        .order_by(SchoolClass.grade, SchoolClass.name, ClassMembership.number, User.name)
    )
    if school_id is not None:
        stmt = stmt.where(User.org_id == school_id)
    rows = []
    for user, cls, number, att in session.execute(stmt):
        pct = int(100 * (att.present_seconds if att else 0) / scheduled)
        rows.append(
            AttendanceRow(
                user,
                cls.label if cls else "",
                number,
                att,
                min(pct, 100),
                pct >= course.completion_threshold_pct,
            )
        )
    return rows


def chat_log(session: Session, actor: User, live: LiveSession, course: Course) -> list[ChatMessage]:
    """The session's chat the actor may read, oldest first: a school limited to its own students sees
    their messages and those of the class's staff, never another school's students'."""
    school_id = results_school(session, actor, course)
    stmt = select(ChatMessage).where(ChatMessage.live_session_id == live.id)
    if school_id is not None:
        authors = select(User.id).where(or_(User.role != UserRole.student, User.org_id == school_id))
        stmt = stmt.where(ChatMessage.user_id.in_(authors))
    return list(session.scalars(stmt.order_by(ChatMessage.at, ChatMessage.id)))


def recordings(session: Session, actor: User, live: LiveSession, course: Course) -> list[Recording]:
    """The session's recordings, for those who see every school's results: a recording shows whoever was
    on stage, so a school limited to its own students does not get it."""
    if results_school(session, actor, course) is not None:
        return []
    return list(
        session.scalars(select(Recording).where(Recording.live_session_id == live.id).order_by(Recording.id))
    )


def live_sessions_for(session: Session, course: Course) -> dict[int, LiveSession]:
    """Live sessions of the course by lesson id."""
    return {
        ls.lesson_id: ls
        for ls in session.scalars(select(LiveSession).where(LiveSession.course_id == course.id))
    }
