"""The demo seed: enough to click through every screen, and a live class that is open whenever the app starts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from courses import live
from courses.db import utcnow
from courses.models import Course, CourseStatus, Enrolment, Lesson, LiveSession, LiveStatus, User
from courses.seed import DEMO_LIVE_TITLE, schedule_demo_live_lesson, seed_demo

SECRET = "seed-test-sfu-secret-0123456789abcdef"


def _user(session, username):
    return session.scalars(select(User).where(User.username == username)).one()


def test_demo_has_a_running_live_class_open_now_and_a_request_to_approve(session):
    assert seed_demo(session) is True
    assert seed_demo(session) is False  # once
    running = session.scalars(select(Course).where(Course.title == DEMO_LIVE_TITLE)).one()
    assert running.status == CourseStatus.running
    assert (
        session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.course_id == running.id))
        == 30
    )
    pending = session.scalars(select(Course).where(Course.status == CourseStatus.submitted)).all()
    assert [c.title for c in pending] == ["우리 마을 환경 지킴이"]

    live_id = schedule_demo_live_lesson(session)
    ls = session.get(LiveSession, live_id)
    now = utcnow()
    assert ls.starts_at.replace(tzinfo=now.tzinfo) <= now < ls.ends_at.replace(tzinfo=now.tzinfo)
    # The demo teacher and a demo student may both join right now; the teacher's token records (policy "full").
    from contracts.tokens import verify_join_token

    teacher_grant = live.grant_join(session, _user(session, "teacher1"), ls, running, secret=SECRET)
    assert verify_join_token(SECRET, teacher_grant.token).record == "stage"
    student_grant = live.grant_join(session, _user(session, "student1"), ls, running, secret=SECRET)
    assert student_grant.role == "student"
    # Starting the app again keeps the class that is on.
    assert schedule_demo_live_lesson(session) == live_id


def test_a_held_lesson_is_kept_and_the_next_one_is_put_on(session):
    seed_demo(session)
    first = schedule_demo_live_lesson(session)
    ls = session.get(LiveSession, first)
    ls.status, ls.ended_at = LiveStatus.ended, utcnow()
    session.flush()
    second = schedule_demo_live_lesson(session)
    assert second is not None and second != first
    assert session.get(LiveSession, first).status == LiveStatus.ended


def test_a_stale_demo_lesson_moves_to_now(session):
    seed_demo(session)
    ls = session.get(LiveSession, schedule_demo_live_lesson(session))
    yesterday = utcnow() - timedelta(days=1)
    lesson = session.get(Lesson, ls.lesson_id)
    lesson.starts_at, lesson.ends_at = yesterday, yesterday + timedelta(hours=1)
    ls.starts_at, ls.ends_at = lesson.starts_at, lesson.ends_at
    session.flush()
    assert schedule_demo_live_lesson(session) == ls.id
    session.refresh(ls)
    assert ls.ends_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)
