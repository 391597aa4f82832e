"""Completion rules, confirmation and transcripts, on real rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from courses import completion, enrolment, workflow
from courses.completion import EMPTY, Cell, LessonFact, evaluate, lesson_done, school_year_of
from courses.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from courses.models import CompletionRecord, CourseStatus, LessonKind, RecordLocked, WatchProgress
from tests.completion_support import activity_course, attend, watch


def _fact(
    i: int, kind: LessonKind, *, required: bool = True, held: bool = True, hours: int = 2
) -> LessonFact:
    return LessonFact(i, i, f"{i}차시", kind, required, hours, held, 100.0, None)


@pytest.mark.parametrize(
    ("kind", "seconds", "needed", "pct", "done"),
    [
        (LessonKind.recorded, 90, 100, 90.0, True),  # exactly the threshold (90 %)
        (LessonKind.recorded, 89.9, 100, 89.9, False),
        (LessonKind.recorded, 500, 100, 100.0, True),  # never more than 100 %
        (LessonKind.live, 80 * 60 * 0.85, 80 * 60, 85.0, True),  # attendance threshold 85 %
        (LessonKind.live, 60 * 60, 80 * 60, 75.0, False),
        (LessonKind.recorded, 10, 0, 0.0, False),  # nothing to watch: nothing done
    ],
)
def test_a_lesson_is_done_at_its_threshold(kind, seconds, needed, pct, done) -> None:
    cell = lesson_done(kind, seconds, needed, 90, 85)
    assert (cell.pct, cell.done) == (pct, done)


def test_the_outcome_counts_required_lessons_and_leaves_out_those_never_held_at_the_end() -> None:
    facts = [
        _fact(1, LessonKind.live),
        _fact(2, LessonKind.recorded),
        _fact(3, LessonKind.recorded, required=False),
        _fact(4, LessonKind.live, held=False),
    ]
    cells = {1: Cell(100, True), 2: Cell(95, True), 3: EMPTY}
    running = evaluate(facts, cells, final=False)
    assert (running.done, running.required, running.completed, running.live_left) == (2, 3, False, 1)
    final = evaluate(facts, cells, final=True)
    assert (final.done, final.required, final.completed, final.hours) == (2, 2, True, 4)
    assert evaluate(facts, {1: Cell(100, True)}, final=True).hours == 0  # not completed: no hours
    assert not evaluate(facts, {}, final=True).active
    assert not evaluate([_fact(1, LessonKind.live, held=False)], {}, final=True).completed  # nothing held


@pytest.mark.parametrize(
    ("day", "year"), [(date(2026, 3, 1), 2026), (date(2027, 2, 28), 2026), (date(2026, 12, 31), 2026)]
)
def test_the_school_year_starts_in_march(day, year) -> None:
    assert school_year_of(day) == year


def test_a_school_confirms_its_students_into_locked_records(session, world) -> None:
    w = world
    course, parts = activity_course(session, w)
    students = enrolment.list_enrolled(session, w["teacher"], course)
    first, second = (row[0] for row in students[:2])
    watch(session, first, parts["recorded"], 95)
    attend(session, first, parts["live"], 36)  # 90 % of 40 minutes
    watch(session, second, parts["recorded"], 50)
    m = completion.course_matrix(session, w["teacher"], course)
    assert len(m.rows) == 5 and m.final is False
    mine = next(r for r in m.rows if r.user_id == first.id)
    assert (mine.outcome.done, mine.outcome.required, mine.outcome.live_left) == (2, 3, 1)
    assert [r.user_id for r in m.behind()] != [] and first.id not in [r.user_id for r in m.behind()]
    with pytest.raises(InvalidTransition):  # a running course cannot be confirmed
        completion.confirm(session, w["school_admin"], course)
    workflow.complete(session, w["teacher"], course)
    with pytest.raises(Forbidden):  # the teacher runs the course; the school confirms it
        completion.confirm(session, w["teacher"], course)
    with pytest.raises(NotFound):  # another school's admin is outside this course
        completion.confirm(session, w["school_b_admin"], course)
    p = completion.preview(session, w["school_admin"], course)
    assert [f.number for f in p.matrix.never_held] == [4] and len(p.matrix.inactive) == 3
    assert p.may_confirm and p.matrix.possible_hours == 4
    with pytest.raises(InvalidTransition):  # the table changed since the admin looked at it
        completion.confirm(session, w["school_admin"], course, expected=4)
    conf = completion.confirm(session, w["school_admin"], course, expected=5)
    assert course.status == CourseStatus.confirmed
    assert (conf.students, conf.completed, conf.hours_granted) == (5, 1, 4)
    with pytest.raises(InvalidTransition):  # confirmed twice
        completion.confirm(session, w["school_admin"], course)
    rec = session.scalar(select(CompletionRecord).where(CompletionRecord.student_id == first.id))
    assert rec.completed and rec.hours == 4 and rec.school_year == school_year_of(course.end_date)
    # Progress arriving after confirmation does not change the locked record …
    wp = session.scalar(select(WatchProgress).where(WatchProgress.user_id == second.id))
    wp.watched_s = 100.0
    session.flush()
    assert not session.scalar(
        select(CompletionRecord).where(CompletionRecord.student_id == second.id)
    ).completed
    # … and the record itself cannot be edited.
    rec.hours = 8
    with pytest.raises(RecordLocked):
        session.flush()
    session.rollback()


def test_unconfirming_needs_a_reason_and_keeps_the_history(session, world) -> None:
    w = world
    course, parts = activity_course(session, w)
    workflow.complete(session, w["teacher"], course)
    first = completion.confirm(session, w["school_admin"], course)
    for bad in (None, "", "짧음", "x" * 501):
        with pytest.raises(ValidationError):
            completion.revoke(session, w["school_admin"], course, bad)
    completion.revoke(session, w["school_admin"], course, "출석 기록 누락을 바로잡습니다")
    assert course.status == CourseStatus.completed and first.revoked_at is not None
    again = completion.confirm(session, w["school_admin"], course)
    assert again.id != first.id
    records = session.scalars(select(CompletionRecord).where(CompletionRecord.course_id == course.id)).all()
    assert len(records) == 10 and sum(r.revoked for r in records) == 5  # the old ones kept, marked
    events = [e for e in workflow.history(session, course) if e.kind.value == "completion"]
    assert [e.to_value for e in events] == ["confirmed", "revoked", "confirmed"]
    assert events[1].detail == "출석 기록 누락을 바로잡습니다"


def test_the_transcript_shows_confirmed_hours_to_the_student_the_parent_and_the_school(
    session, world
) -> None:
    w = world
    course, parts = activity_course(session, w)
    watch(session, w["student"], parts["recorded"], 100)
    attend(session, w["student"], parts["live"], 40)
    workflow.complete(session, w["teacher"], course)
    completion.confirm(session, w["school_admin"], course)
    for reader in ("student", "parent", "teacher", "school_admin", "office_admin"):
        t = completion.transcript(session, w[reader], w["student"].id)
        assert t.hours == 4 and t.totals() == [(school_year_of(course.end_date), course.theme.name, 1, 4)]
    for outsider in ("student2", "teacher_b", "school_b_admin", "other_office_admin", "instructor"):
        with pytest.raises(NotFound):
            completion.transcript(session, w[outsider], w["student"].id)


@pytest.mark.parametrize(
    ("watch_pct", "attend_pct", "hours", "field"),
    [
        (49, 85, 2, "watch_pct"),
        (90, 101, 2, "attend_pct"),
        (None, 85, 2, "watch_pct"),
        (90, 85, 21, "hours-"),
        (90, 85, -1, "hours-"),
    ],
)
def test_completion_rules_are_set_within_limits(session, world, watch_pct, attend_pct, hours, field) -> None:
    course, _ = activity_course(session, world)
    lid = course.lessons[0].id
    with pytest.raises(ValidationError) as err:
        completion.update_rules(
            session,
            world["teacher"],
            course,
            watch_pct=watch_pct,
            attend_pct=attend_pct,
            lessons={lid: (True, hours)},
        )
    assert any(k.startswith(field) for k in err.value.errors)
    completion.update_rules(
        session, world["teacher"], course, watch_pct=80, attend_pct=70, lessons={lid: (True, 3)}
    )
    assert (course.watch_threshold_pct, course.completion_threshold_pct, course.lessons[0].credit_hours) == (
        80,
        70,
        3,
    )
    with pytest.raises(Forbidden):
        completion.update_rules(session, world["student"], course, watch_pct=80, attend_pct=70, lessons={})
