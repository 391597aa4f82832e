"""Who is told what: enrolment and rescheduling reach students and their parents; history names groups."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from courses import enrolment, workflow
from courses.models import CourseEvent, EventKind, Notification
from tests.factories import course_input


def _titles(session, user) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(Notification.title).where(Notification.user_id == user.id)))


def test_enrolled_students_and_their_parents_are_told_and_history_names_the_class(session, world) -> None:
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    workflow.approve(session, world["school_admin"], course)
    assert enrolment.enrol_students(session, world["teacher"], course, [world["student"].id]) == 1
    first = session.scalars(
        select(CourseEvent).where(CourseEvent.course_id == course.id).order_by(CourseEvent.id.desc())
    ).first()
    assert first.detail == world["student"].name  # a name, never "ids=12"
    assert "강좌에 등록되었습니다" in _titles(session, world["student"])
    assert "강좌에 등록되었습니다" in _titles(session, world["parent"])  # the student's parent
    added = enrolment.enrol_group(
        session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id
    )
    assert added == 4
    assert _titles(session, world["student"]).count("강좌에 등록되었습니다") == 1  # not told twice
    assert "강좌에 등록되었습니다" not in _titles(session, world["student2"])  # another class
    event = session.scalars(
        select(CourseEvent)
        .where(CourseEvent.course_id == course.id, CourseEvent.kind == EventKind.enrolment)
        .order_by(CourseEvent.id.desc())
    ).first()
    assert event.detail == "가람초 5학년 1반"  # names, never "school=3 class=1"


def test_a_rescheduled_lesson_is_announced_but_a_first_schedule_is_not(session, world) -> None:
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    workflow.approve(session, world["school_admin"], course)
    enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id)
    lesson = course.lessons[0]
    starts = course.start_date
    from datetime import UTC, datetime, time

    at = datetime.combine(starts, time(1), tzinfo=UTC)
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        lesson.id,
        title="1차시",
        starts_at=at,
        ends_at=at + timedelta(minutes=40),
        description="",
    )
    assert "수업 일정이 바뀌었습니다" not in _titles(
        session, world["student"]
    )  # first time set: enrolment covers it
    later = at + timedelta(days=1)
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        lesson.id,
        title="1차시",
        starts_at=later,
        ends_at=later + timedelta(minutes=40),
        description="",
    )
    assert _titles(session, world["student"]).count("수업 일정이 바뀌었습니다") == 1
    assert "수업 일정이 바뀌었습니다" in _titles(session, world["parent"])
    body = session.scalars(
        select(Notification.body).where(Notification.title == "수업 일정이 바뀌었습니다")
    ).first()
    assert body.endswith(f"{later.astimezone(workflow.SEOUL):%Y-%m-%d %H:%M}")
