"""What each student really watched: heartbeats from the player merged into one union of played intervals per
student and lesson (media.progress does the arithmetic), completion, the teachers' reports, audience
retention and the xAPI Video Profile export."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses.db import utcnow
from courses.errors import N_, DomainError, Errors, Forbidden, InvalidTransition, NotFound
from courses.labels import class_label
from courses.models import (
    ClassMembership,
    Course,
    Enrolment,
    MemberRole,
    SchoolClass,
    User,
    Video,
    VideoState,
    WatchEvent,
    WatchProgress,
    WatchSession,
)
from courses.models.course import Lesson
from courses.policy import action_clause, course_filter, require_action, results_school
from media import progress

SESSION_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_SEQ = 2**53
EVENTS = ("heartbeat", "initialized", "play", "pause", "seek", "ended", "pagehide", "ratechange")
POSITION_SLACK_S = 5.0  # a player may report a position a little past the probed duration


class NotWatchable(DomainError):
    """The lesson has no video ready to watch."""

    status = 409


@dataclass(frozen=True, slots=True)
class Beat:
    """One validated heartbeat."""

    session_key: str
    seq: int
    segments: list[progress.Interval]
    position: float
    rate: float
    event: str
    seek_from: float | None = None


def parse_beat(data: dict[str, Any], duration_s: float) -> Beat:
    """Validate a heartbeat body (the contract's names); ValidationError naming each bad field."""
    e = Errors()
    key = data.get("session_id")
    if not isinstance(key, str) or not SESSION_KEY_RE.match(key):
        e.add("session_id", N_("session_id는 8~64자의 영문·숫자·-·_ 여야 합니다."))
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        e.add("seq", N_("seq는 0 이상의 정수여야 합니다."))
    segments: list[progress.Interval] = []
    try:
        segments = progress.parse_segments(data.get("segments", []))
    except progress.BadSegments as exc:
        e.add("segments", N_("재생 구간이 올바르지 않습니다: %(why)s"), why=str(exc))
    if any(start > duration_s + POSITION_SLACK_S for start, _ in segments):
        e.add("segments", N_("재생 구간이 영상 길이를 벗어납니다."))
    position = data.get("position", 0)
    if not _number(position) or not 0 <= position <= duration_s + POSITION_SLACK_S:
        e.add("position", N_("position은 0~영상 길이 사이의 초여야 합니다."))
    rate = 1.0
    try:
        rate = progress.check_rate(data.get("rate", 1))
    except progress.BadSegments:
        e.add("rate", N_("재생 속도(rate)가 올바르지 않습니다."))
    event = data.get("event", "heartbeat")
    if event not in EVENTS:
        e.add("event", N_("알 수 없는 event입니다."))
    seek_from = data.get("from")
    if seek_from is not None and (
        not _number(seek_from) or not 0 <= seek_from <= duration_s + POSITION_SLACK_S
    ):
        e.add("from", N_("from은 0~영상 길이 사이의 초여야 합니다."))
    e.raise_if_any()
    return Beat(
        key,  # type: ignore[arg-type]
        seq,  # type: ignore[arg-type]
        segments,
        min(float(position), duration_s),
        rate,
        str(event),
        None if seek_from is None else min(float(seek_from), duration_s),
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _epoch(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def ready_video(session: Session, lesson: Lesson) -> Video:
    """The lesson's video if it can be watched; NotWatchable otherwise."""
    video = session.scalar(select(Video).where(Video.lesson_id == lesson.id))
    return _watchable(video)


def _watchable(video: Video | None) -> Video:
    if video is None or video.state != VideoState.ready or not video.duration_s:
        raise NotWatchable(N_("아직 시청할 수 있는 영상이 없습니다."))
    return video


def beat_target(session: Session, actor: User, lesson_id: int) -> tuple[Lesson, Course, Video | None, bool]:
    """The lesson, its course and video, and whether the actor may watch it for credit, in one query: the
    policy's SQL forms of "may see the course" and "may watch" (NotFound when the course is not visible)."""
    row = session.execute(
        select(Lesson, Course, Video, action_clause(actor, "watch").label("may_watch"))
        .join(Course, Course.id == Lesson.course_id)
        .outerjoin(Video, Video.lesson_id == Lesson.id)
        .where(Lesson.id == lesson_id, course_filter(actor))
    ).one_or_none()
    if row is None:
        raise NotFound()
    return row[0], row[1], row[2], bool(row[3])


def _created(session: Session, make: Any) -> None:
    """Insert a row another beat may be inserting at the same moment (the unique key then keeps theirs)."""
    try:
        with session.begin_nested():
            session.add(make())
    except IntegrityError:
        pass


def _rows(
    session: Session, key: str, lesson_id: int, user_id: int, now: datetime, agent: str
) -> tuple[WatchProgress, WatchSession]:
    """The student's progress row, locked (it serialises every beat of the student on this lesson, from any
    tab or device), and this player's session row: one query once both exist."""
    stmt = (
        select(WatchProgress, WatchSession)
        .outerjoin(WatchSession, and_(WatchSession.key == key, WatchSession.user_id == WatchProgress.user_id))
        .where(WatchProgress.lesson_id == lesson_id, WatchProgress.user_id == user_id)
        .with_for_update(of=WatchProgress)
    )
    found = session.execute(stmt).one_or_none()
    if found is None:
        _created(
            session,
            lambda: WatchProgress(
                lesson_id=lesson_id, user_id=user_id, segments=[], first_at=now, last_at=now
            ),
        )
        found = session.execute(stmt).one()
    row, ws = found
    if ws is None:
        _created(
            session,
            lambda: WatchSession(
                key=key, lesson_id=lesson_id, user_id=user_id, started_at=now, user_agent=agent[:200]
            ),
        )
        ws = session.scalars(
            select(WatchSession).where(WatchSession.key == key, WatchSession.user_id == user_id)
        ).one()
    if ws.lesson_id != lesson_id:
        raise InvalidTransition(N_("이 session_id는 다른 차시에서 쓰였습니다. 새 session_id를 쓰세요."))
    return row, ws


def _within_frontier(
    union: Sequence[progress.Interval], new: Sequence[progress.Interval]
) -> list[progress.Interval]:
    """With the seek lock, only play that continues from the furthest point watched counts."""
    frontier = max((e for _, e in union), default=0.0)
    kept = []
    for start, end in new:
        if start <= frontier + progress.SLACK_S:
            kept.append((start, end))
            frontier = max(frontier, end)
    return kept


def state_json(row: WatchProgress | None, video: Video) -> dict[str, Any]:
    """The numbers both progress calls answer with."""
    duration = float(video.duration_s or 0)
    watched = min(duration, row.watched_s) if row else 0.0
    return {
        "watched_s": round(watched, 3),
        "duration_s": round(duration, 3),
        "percent": round(100 * watched / duration, 1) if duration else 0.0,
        "completed": bool(row and row.completed_at),
    }


def record_beat(
    session: Session,
    actor: User,
    lesson_id: int,
    data: dict[str, Any],
    *,
    now: datetime | None = None,
    user_agent: str = "",
) -> dict[str, Any]:
    """Apply one heartbeat; idempotent by (session_id, seq), credit bounded by server time."""
    lesson, course, video, may_watch = beat_target(session, actor, lesson_id)
    if not may_watch:
        raise Forbidden(N_("이 강좌의 수강생만 시청 기록을 남길 수 있습니다."))
    video = _watchable(video)
    duration = float(video.duration_s or 0)
    beat = parse_beat(data, duration)
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # A beat is re-sent by the player until acknowledged and credit is bounded anyway: a crash may lose
        # the last fraction of a second of acknowledged beats, which is worth not waiting on a WAL flush each.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    row, ws = _rows(session, beat.session_key, lesson.id, actor.id, now, user_agent)
    if beat.seq <= ws.last_seq:  # a replay or a late beat: already counted (or superseded by a later one)
        return state_json(row, video) | {"credited_s": 0.0}
    union = [(float(s), float(e)) for s, e in row.segments]
    segments = beat.segments
    if course.seek_lock and row.completed_at is None:
        segments = _within_frontier(union, segments)
    allowance = progress.allowance(
        now=now.timestamp(),
        session_last_beat=_epoch(ws.last_beat_at),
        tokens=row.credit_tokens,
        tokens_at=_epoch(row.credit_at),
    )
    union, credited = progress.add_capped(union, segments, duration, allowance.seconds)
    # Stored exactly as played: rounding here would open hairline gaps between beats that never merge.
    row.segments = [[s, e] for s, e in union]
    row.watched_s = progress.total(union)
    row.credit_tokens = allowance.tokens_after_refill - credited
    row.credit_at = now
    row.last_position = beat.position
    row.last_at = now
    newly_complete = row.completed_at is None and row.watched_s >= duration * course.watch_threshold_pct / 100
    if newly_complete:
        row.completed_at = now
    ws.last_seq = beat.seq
    ws.last_beat_at = now
    session.execute(
        insert(WatchEvent).values(
            watch_session_id=ws.id,
            seq=beat.seq,
            at=now,
            event="completed" if newly_complete else beat.event,
            segments=[list(s) for s in beat.segments],
            position=beat.position,
            rate=beat.rate,
            credited_s=credited,
            seek_from=beat.seek_from,
        )
    )
    return state_json(row, video) | {"credited_s": round(credited, 3)}


def own_progress(session: Session, actor: User, lesson: Lesson, course: Course) -> dict[str, Any]:
    """The caller's own progress on a lesson."""
    video = ready_video(session, lesson)
    row = session.scalar(
        select(WatchProgress).where(WatchProgress.lesson_id == lesson.id, WatchProgress.user_id == actor.id)
    )
    segments = [(float(s), float(e)) for s, e in (row.segments if row else [])]
    return state_json(row, video) | {
        "played_segments": progress.to_xapi(segments),
        "last_position": round(row.last_position, 3) if row else 0.0,
        "segments": [[s, e] for s, e in segments],
        "seek_lock": bool(course.seek_lock and not (row and row.completed_at)),
    }


def own_percent_by_video(session: Session, actor: User, videos: Iterable[Video]) -> dict[int, int]:
    """The actor's watched percentage per ready video (a course page's lesson list)."""
    ready = {v.lesson_id: v for v in videos if v.state == VideoState.ready and v.duration_s}
    if not ready:
        return {}
    rows = session.execute(
        select(WatchProgress.lesson_id, WatchProgress.watched_s).where(
            WatchProgress.user_id == actor.id, WatchProgress.lesson_id.in_(ready)
        )
    )
    return {
        ready[lesson_id].id: int(100 * min(1.0, watched / float(ready[lesson_id].duration_s or 1)))
        for lesson_id, watched in rows
    }


# -- reports ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgressRow:
    """One enrolled student on one lesson."""

    user: User
    class_id: int | None
    class_label: str
    number: int | None
    watched_s: float
    percent: float
    last_at: datetime | None
    completed: bool
    segments: list[progress.Interval]


def lesson_report(
    session: Session, actor: User, course: Course, lesson: Lesson, *, class_id: int | None = None
) -> tuple[list[ProgressRow], Video]:
    """Every enrolled student (those who never watched too) on one lesson; a school sees its own students."""
    require_action(session, actor, course, "view_results")
    video = ready_video(session, lesson)
    duration = float(video.duration_s or 1)
    school_id = results_school(session, actor, course)
    stmt = (
        select(User, SchoolClass, ClassMembership.number, WatchProgress)
        .join(Enrolment, and_(Enrolment.student_id == User.id, Enrolment.course_id == course.id))
        .join(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
            isouter=True,
        )
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id, isouter=True)
        .join(
            WatchProgress,
            and_(WatchProgress.user_id == User.id, WatchProgress.lesson_id == lesson.id),
            isouter=True,
        )
        .order_by(SchoolClass.grade, SchoolClass.name, ClassMembership.number, User.name)
    )
    if school_id is not None:
        stmt = stmt.where(User.org_id == school_id)
    if class_id is not None:
        stmt = stmt.where(SchoolClass.id == class_id)
    rows = []
    for user, cls, number, wp in session.execute(stmt):
        watched = min(duration, wp.watched_s) if wp else 0.0
        rows.append(
            ProgressRow(
                user,
                cls.id if cls else None,
                cls.label if cls else "",
                number,
                round(watched, 1),
                round(100 * watched / duration, 1),
                wp.last_at if wp else None,
                bool(wp and wp.completed_at),
                [(float(s), float(e)) for s, e in (wp.segments if wp else [])],
            )
        )
    return rows, video


@dataclass(frozen=True, slots=True)
class CourseProgressRow:
    """One enrolled student across the course's recorded lessons: percent per lesson, lessons completed."""

    user_id: int
    name: str
    class_label: str
    number: int | None
    percent: dict[int, float]
    done: dict[int, bool]

    @property
    def completed(self) -> int:
        """How many of the lessons the student completed."""
        return sum(self.done.values())


def course_report(
    session: Session, actor: User, course: Course
) -> tuple[list[Lesson], list[CourseProgressRow]]:
    """The class progress report: every enrolled student × every ready recorded lesson, in two queries."""
    require_action(session, actor, course, "view_results")
    school_id = results_school(session, actor, course)
    lessons = list(
        session.execute(
            select(Lesson, Video.duration_s)
            .join(Video, Video.lesson_id == Lesson.id)
            .where(Lesson.course_id == course.id, Video.state == VideoState.ready)
            .order_by(Lesson.number)
        )
    )
    durations = {lesson.id: float(d or 1) for lesson, d in lessons}
    students = (
        select(User.id, User.name, SchoolClass.grade, SchoolClass.name, ClassMembership.number)
        .join(Enrolment, and_(Enrolment.student_id == User.id, Enrolment.course_id == course.id))
        .join(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
            isouter=True,
        )
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id, isouter=True)
        .order_by(SchoolClass.grade, SchoolClass.name, ClassMembership.number, User.name)
    )
    if school_id is not None:
        students = students.where(User.org_id == school_id)
    watched: dict[tuple[int, int], tuple[float, bool]] = {}
    if durations:
        stmt = (
            select(
                WatchProgress.user_id,
                WatchProgress.lesson_id,
                WatchProgress.watched_s,
                WatchProgress.completed_at,
            )
            .join(
                Enrolment,
                and_(Enrolment.student_id == WatchProgress.user_id, Enrolment.course_id == course.id),
            )
            .where(WatchProgress.lesson_id.in_(durations))
        )
        for uid, lid, w, done_at in session.execute(stmt):
            watched[(uid, lid)] = (w, done_at is not None)
    rows = []
    for uid, name, grade, cname, number in session.execute(students):
        pct, done = {}, {}
        for lid, duration in durations.items():
            w, done[lid] = watched.get((uid, lid), (0.0, False))
            pct[lid] = round(100 * min(duration, w) / duration, 1)
        label = class_label(grade, cname) if grade else ""
        rows.append(CourseProgressRow(uid, name, label, number, pct, done))
    return [lesson for lesson, _ in lessons], rows


def retention(rows: Sequence[ProgressRow], video: Video, bucket_s: float = 10.0) -> list[int]:
    """How many of these students watched each 10 s of the video."""
    return progress.retention([r.segments for r in rows], float(video.duration_s or 0), bucket_s)


__all__ = [
    "Beat",
    "NotWatchable",
    "ProgressRow",
    "lesson_report",
    "own_progress",
    "parse_beat",
    "ready_video",
    "record_beat",
    "retention",
    "state_json",
]
