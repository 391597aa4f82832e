"""Helpers for fee tests: a course of one instructor with live lessons held and recorded lessons published."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from courses import workflow
from courses.models import Course, Lesson, LessonKind, LiveSession, LiveStatus, Video, VideoState
from tests.factories import World, course_input

SEOUL = ZoneInfo("Asia/Seoul")


def kst(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Seoul wall-clock time as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=SEOUL)


def fee_course(session: Any, world: World, *, instructor: str = "instructor", mode: str = "office") -> Course:
    """A blended course (lessons 1, 3 live; 2, 4 recorded; 2 hours each) taught by one instructor."""
    return workflow.submit_request(
        session,
        world["teacher"],
        course_input(
            world,
            delivery="blended",
            instructor_mode=mode,
            instructor_id=world[instructor].id,
            title=f"강좌 {instructor}",
        ),
    )


def lesson(course: Course, number: int) -> Lesson:
    return next(x for x in course.lessons if x.number == number)


def held(
    session: Any, lesson: Lesson, start: datetime, minutes: int, *, status: LiveStatus = LiveStatus.ended
) -> LiveSession:
    """A live class that the SFU reported started at `start` and that ended `minutes` later."""
    assert lesson.kind == LessonKind.live
    live = LiveSession(
        course_id=lesson.course_id,
        lesson_id=lesson.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        status=status,
        started_at=start if status != LiveStatus.scheduled else None,
        ended_at=start + timedelta(minutes=minutes) if status == LiveStatus.ended else None,
    )
    session.add(live)
    session.flush()
    return live


def published(
    session: Any, lesson: Lesson, ready_at: datetime, *, state: VideoState = VideoState.ready, **kw: Any
) -> Video:
    """A recorded lesson's video that became ready (published) at `ready_at`."""
    assert lesson.kind == LessonKind.recorded
    video = Video(
        lesson_id=lesson.id,
        state=state,
        source_key=f"videos/test-{lesson.id}/source",
        ready_at=ready_at if state == VideoState.ready else None,
        created_at=ready_at - timedelta(hours=1),
        duration_s=600.0,
        **kw,
    )
    session.add(video)
    session.flush()
    return video
