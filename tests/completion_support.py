"""A course with real activity rows: a live lesson held, a recorded lesson published, an optional one, one
never held — and helpers to give a student watch progress or attendance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from courses import workflow
from courses.db import utcnow
from courses.models import Attendance, LessonKind, LiveSession, Video, VideoState, WatchProgress
from tests.live_support import live_course

VIDEO_S = 100.0
LIVE_MINUTES = 40


def activity_course(session: Any, world: Any) -> tuple[Any, dict[str, Any]]:
    """Four lessons of 2 hours: 1 live (held), 2 recorded (ready, 100 s), 3 optional, 4 live never held."""
    course, live = live_course(session, world, starts_in=timedelta(minutes=-60), minutes=LIVE_MINUTES)
    live.started_at = live.starts_at
    lessons = course.lessons
    lessons[1].kind = LessonKind.recorded
    session.add(
        Video(
            lesson_id=lessons[1].id,
            state=VideoState.ready,
            source_key=f"videos/t{lessons[1].id}/source",
            duration_s=VIDEO_S,
            ready_at=utcnow(),
        )
    )
    lessons[2].required = False
    later = utcnow().replace(microsecond=0) + timedelta(days=2)
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        lessons[3].id,
        title="4차시",
        starts_at=later,
        ends_at=later + timedelta(minutes=40),
        description="",
    )
    session.flush()
    live4 = session.query(LiveSession).filter_by(lesson_id=lessons[3].id).one()
    return course, {"live": live, "live4": live4, "recorded": lessons[1], "optional": lessons[2]}


def watch(session: Any, user: Any, lesson: Any, seconds: float) -> None:
    """Give a student this many seconds watched (one interval from 0)."""
    now = utcnow()
    session.add(
        WatchProgress(
            lesson_id=lesson.id,
            user_id=user.id,
            segments=[[0.0, seconds]],
            watched_s=seconds,
            last_position=seconds,
            credit_tokens=0.0,
            first_at=now,
            last_at=now,
        )
    )
    session.flush()


def attend(session: Any, user: Any, live: Any, minutes: float) -> None:
    """Give a student this many minutes present in a live session."""
    session.add(
        Attendance(
            live_session_id=live.id,
            user_id=user.id,
            first_join_at=live.starts_at,
            present_seconds=int(minutes * 60),
            joins=1,
        )
    )
    session.flush()
