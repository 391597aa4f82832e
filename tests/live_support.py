"""Helpers for live-class tests: a running course with a scheduled live lesson, and SFU events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from courses import enrolment, workflow
from courses.db import utcnow
from courses.models import LiveSession
from tests.factories import World, course_input


def live_course(session, world: World, *, starts_in=timedelta(minutes=5), minutes=40, recording="none"):
    """An approved, running class-level course with its class enrolled and lesson 1 scheduled live."""
    course = workflow.submit_request(
        session,
        world["teacher"],
        course_input(world, instructor_id=world["instructor"].id, recording_policy=recording),
    )
    workflow.approve(session, world["school_admin"], course)
    workflow.start(session, world["teacher"], course)
    enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id)
    starts = utcnow().replace(microsecond=0) + starts_in
    lesson = course.lessons[0]
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        lesson.id,
        title="1차시 실시간",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        description="",
    )
    live = session.query(LiveSession).filter_by(lesson_id=lesson.id).one()
    return course, live


def event(live: LiveSession, etype: str, user, at: datetime, **data) -> dict:
    """An SFU webhook body."""
    return {
        "id": uuid.uuid4().hex,
        "type": etype,
        "room": live.room,
        "user": str(user.id) if user else "",
        "at": at.isoformat(),
        "data": data,
    }
