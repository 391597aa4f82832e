"""Class-start reminders: a live lesson's students, their parents and its teachers are told 10 minutes before
it starts and again when it starts, with the link to the live room. Run periodically (the worker's sweep, the
embedded run's thread, or `flask send-reminders` from cron); a marker row per lesson, kind and scheduled
start, under a unique key, makes each reminder go out once however many workers scan at the same time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses.errors import N_
from courses.models import (
    Course,
    Enrolment,
    Lesson,
    LessonKind,
    LessonReminder,
    LiveSession,
    NoticeCategory,
    ReminderKind,
)
from courses.notifications import notify_many, with_parents
from courses.policy import OPEN

SEOUL = ZoneInfo("Asia/Seoul")
SOON = timedelta(minutes=10)
# A "starting now" reminder found later than this after the start (the worker was down) is not sent.
START_GRACE = timedelta(minutes=10)
TITLES = {
    ReminderKind.soon: N_("10분 뒤 실시간 수업이 시작됩니다"),
    ReminderKind.start: N_("실시간 수업이 지금 시작됩니다"),
}


def due_lessons(session: Session, now: datetime) -> list[tuple[Lesson, Course]]:
    """Live lessons of open courses starting within SOON from now, or started less than START_GRACE ago."""
    stmt = (
        select(Lesson, Course)
        .join(Course, Course.id == Lesson.course_id)
        .where(
            Lesson.kind == LessonKind.live,
            Lesson.starts_at.is_not(None),
            Lesson.starts_at > now - START_GRACE,
            Lesson.starts_at <= now + SOON,
            Course.status.in_(OPEN),
        )
        .order_by(Lesson.starts_at, Lesson.id)
    )
    return [(lesson, course) for lesson, course in session.execute(stmt)]


def _claim(session: Session, lesson: Lesson, kind: ReminderKind, now: datetime) -> bool:
    """Write this reminder's marker; False if it exists (sent already, or another worker is sending it)."""
    assert lesson.starts_at is not None
    try:
        with session.begin_nested():
            session.add(
                LessonReminder(lesson_id=lesson.id, kind=kind, starts_at=lesson.starts_at, sent_at=now)
            )
    except IntegrityError:
        return False
    return True


def audience(session: Session, course: Course) -> list[int]:
    """Who is reminded: the enrolled students and their parents, the course's requester and instructor."""
    students = session.scalars(select(Enrolment.student_id).where(Enrolment.course_id == course.id))
    teachers = [uid for uid in (course.requester_id, course.instructor_id) if uid is not None]
    return sorted(set(with_parents(session, students)) | set(teachers))


def send_due(session: Session, *, now: datetime) -> int:
    """Notify every reminder now due (once each); how many reminders went out. The caller commits."""
    sent = 0
    for lesson, course in due_lessons(session, now):
        assert lesson.starts_at is not None
        if lesson.ends_at is not None and now >= lesson.ends_at:
            continue
        kind = ReminderKind.start if lesson.starts_at <= now else ReminderKind.soon
        if not _claim(session, lesson, kind, now):
            continue
        live_id = session.scalar(select(LiveSession.id).where(LiveSession.lesson_id == lesson.id))
        link = f"/live/{live_id}" if live_id is not None else f"/courses/{course.id}"
        notify_many(
            session,
            audience(session, course),
            TITLES[kind],
            f"{course.title} · {lesson.title} · {lesson.starts_at.astimezone(SEOUL):%H:%M}",
            link,
            category=NoticeCategory.reminder,
        )
        sent += 1
    return sent
