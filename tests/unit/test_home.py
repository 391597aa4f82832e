"""Homes, today first: the week's lessons with open rooms, and where a student continues."""

from __future__ import annotations

from datetime import timedelta

from courses import workflow
from courses.db import utcnow
from courses.home import agenda, continue_learning, teacher_home
from tests.completion_support import activity_course, watch
from tests.live_support import live_course


def test_the_week_lists_scheduled_lessons_in_order_with_the_open_room(session, world) -> None:
    course, live = live_course(session, world, starts_in=timedelta(minutes=5))
    later = course.lessons[1]
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        later.id,
        title="2차시",
        starts_at=live.starts_at + timedelta(days=2),
        ends_at=live.starts_at + timedelta(days=2, minutes=40),
        description="",
    )
    now = utcnow()
    items = agenda(session, world["student"], now)
    assert [i.lesson.number for i in items] == [1, 2]
    assert items[0].open_now and items[0].may_join and not items[1].open_now  # opens 10 minutes before
    assert items[0].today
    parent = agenda(session, world["parent"], now)
    assert parent[0].open_now and not parent[0].may_join  # a parent sees it, with no join button
    assert agenda(session, world["student_b"], now) == []  # not enrolled
    assert agenda(session, world["student"], now + timedelta(days=8)) == []  # outside the week


def test_continue_learning_prefers_an_open_room_then_an_unfinished_lecture_never_a_finished_course(
    session, world
) -> None:
    course, parts = activity_course(session, world)  # lesson 1 began an hour ago (40 min): over
    watch(session, world["student"], parts["recorded"], 30)  # started the lecture, not finished
    go = continue_learning(session, world["student"], utcnow())
    assert go["kind"] == "recorded" and go["resume"] and go["lesson"].id == parts["recorded"].id
    live, _ = live_course(session, world, starts_in=timedelta(minutes=2))
    go = continue_learning(session, world["student"], utcnow())
    assert go["kind"] == "live" and go["course"].id == live.id  # a room open now comes first
    workflow.complete(session, world["teacher"], course)
    workflow.complete(session, world["teacher"], live)
    assert continue_learning(session, world["student"], utcnow()) is None  # both courses are over


def test_the_teachers_home_lists_their_class_courses_whoever_requested_them(session, world) -> None:
    course, _ = live_course(session, world)  # requested by the teacher themself
    home = teacher_home(session, world["teacher"])
    assert course.id in [c.id for c in home["class_courses"]]
    assert course.id in [c.id for c in home["my_requests"]]
    assert [i.course.id for i in home["agenda"]] == [course.id]


def test_a_class_begun_before_midnight_is_still_on_the_home_after_it(session, world) -> None:
    """A class from 23:50 to 00:30 (Seoul) is joined at 00:05 from the same home, open and joinable."""
    from datetime import datetime, time

    from courses.home import SEOUL

    course, live = live_course(session, world, starts_in=timedelta(days=1))
    midnight = datetime.combine(utcnow().astimezone(SEOUL).date() + timedelta(days=1), time(0), tzinfo=SEOUL)
    first = course.lessons[0]
    workflow.update_lesson(
        session,
        world["teacher"],
        course,
        first.id,
        title=first.title,
        starts_at=midnight - timedelta(minutes=10),
        ends_at=midnight + timedelta(minutes=30),
        description="",
    )
    session.flush()
    after = agenda(session, world["student"], midnight + timedelta(minutes=5))
    assert [(i.lesson.id, i.open_now, i.may_join) for i in after][:1] == [(first.id, True, True)]
    ended = agenda(session, world["student"], midnight + timedelta(minutes=31))
    assert first.id not in [i.lesson.id for i in ended]  # once it ended it belongs to yesterday
