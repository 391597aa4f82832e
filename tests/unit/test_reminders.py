"""Class-start reminders: 10 minutes before and at the start, to the students, their parents and the course's
teachers, with the live room's link; each once per lesson, kind and scheduled start."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from courses import reminders, workflow
from courses.models import (
    CourseStatus,
    Enrolment,
    LessonReminder,
    NoticeCategory,
    Notification,
    ReminderKind,
)
from tests.live_support import live_course

SOON, START = reminders.TITLES[ReminderKind.soon], reminders.TITLES[ReminderKind.start]


def _told(session, title: str) -> set[int]:  # type: ignore[no-untyped-def]
    return set(session.scalars(select(Notification.user_id).where(Notification.title == title)))


@pytest.mark.parametrize(
    ("minutes_to_start", "kind"),
    [
        (30, None),  # too early
        (10, ReminderKind.soon),
        (3, ReminderKind.soon),
        (0, ReminderKind.start),
        (-9, ReminderKind.start),
        (-11, None),  # the scan ran too late to say "now"
    ],
)
def test_which_reminder_is_due_when(session, world, minutes_to_start: int, kind) -> None:  # type: ignore[no-untyped-def]
    course, live = live_course(session, world, starts_in=timedelta(hours=2))
    now = live.starts_at - timedelta(minutes=minutes_to_start)
    assert reminders.send_due(session, now=now) == (0 if kind is None else 1)
    marks = list(session.scalars(select(LessonReminder.kind)))
    assert marks == ([] if kind is None else [kind])


def test_students_parents_and_teachers_are_told_once_with_the_room_link(session, world) -> None:  # type: ignore[no-untyped-def]
    course, live = live_course(session, world, starts_in=timedelta(hours=2))
    students = set(session.scalars(select(Enrolment.student_id).where(Enrolment.course_id == course.id)))
    expected = students | {world["parent"].id, world["teacher"].id, world["instructor"].id}
    soon = live.starts_at - timedelta(minutes=9)
    assert reminders.send_due(session, now=soon) == 1
    assert reminders.send_due(session, now=soon + timedelta(minutes=1)) == 0  # a second scan: nothing new
    assert _told(session, SOON) == expected
    assert reminders.send_due(session, now=live.starts_at + timedelta(seconds=20)) == 1
    assert reminders.send_due(session, now=live.starts_at + timedelta(minutes=2)) == 0
    assert _told(session, START) == expected
    notice = session.scalars(select(Notification).where(Notification.title == START)).first()
    assert notice.link == f"/live/{live.id}"
    assert notice.category == NoticeCategory.reminder
    assert (
        notice.body == f"{course.title} · 1차시 실시간 · {live.starts_at.astimezone(reminders.SEOUL):%H:%M}"
    )
    assert session.scalar(
        select(func.count()).select_from(Notification).where(Notification.title == START)
    ) == len(expected)


def test_a_marker_refuses_a_second_sender_and_a_moved_lesson_is_reminded_again(session, world) -> None:  # type: ignore[no-untyped-def]
    course, live = live_course(session, world, starts_in=timedelta(hours=2))
    lesson = live.lesson
    at = live.starts_at - timedelta(minutes=5)
    assert reminders._claim(session, lesson, ReminderKind.soon, at)
    assert not reminders._claim(session, lesson, ReminderKind.soon, at)  # what a second worker meets
    assert reminders.send_due(session, now=at) == 0  # and the scan, too
    later = live.starts_at + timedelta(days=1)
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        lesson.id,
        title=lesson.title,
        starts_at=later,
        ends_at=later + timedelta(minutes=40),
        description="",
    )
    assert reminders.send_due(session, now=later - timedelta(minutes=5)) == 1


def test_cancelled_courses_and_recorded_lessons_are_not_reminded(session, world) -> None:  # type: ignore[no-untyped-def]
    course, live = live_course(session, world, starts_in=timedelta(hours=2))
    course.status = CourseStatus.cancelled
    session.flush()
    assert reminders.send_due(session, now=live.starts_at) == 0
    course.status = CourseStatus.running
    live.lesson.kind = "recorded"  # type: ignore[assignment]
    session.flush()
    assert reminders.send_due(session, now=live.starts_at) == 0


def test_a_lesson_already_over_gets_no_start_reminder(session, world) -> None:  # type: ignore[no-untyped-def]
    course, live = live_course(session, world, starts_in=timedelta(hours=2), minutes=5)
    assert reminders.send_due(session, now=live.starts_at + timedelta(minutes=6)) == 0
