"""Instructor fees: rate selection by date, what counts as delivered (Seoul months), statements' hours and
amounts, approval, corrections, the lock on approved statements and who sees which statement."""

from __future__ import annotations

from datetime import date

import pytest

from courses import fees
from courses.errors import Errors, Forbidden, InvalidTransition, NotFound, ValidationError
from courses.models import (
    FeeLine,
    FeeLineKind,
    FeeLocked,
    FeeRate,
    FeeStatement,
    InstructorMode,
    LiveStatus,
    Recording,
    StatementStatus,
    Video,
    VideoState,
)
from tests.fee_support import fee_course, held, kst, lesson, published

NOV = date(2026, 11, 1)


def rate(session, world, kind: str, won: int, valid_from: date, points: int = 0) -> FeeRate:
    return fees.set_rate(
        session,
        world["office_admin"],
        instructor_type=kind,
        rate_per_hour=won,
        points_per_hour=points,
        valid_from=valid_from,
    )


@pytest.fixture()
def deliveries(session, world):  # type: ignore[no-untyped-def]
    """Course A and B of `instructor`, course C of `external`, course D in another office."""
    a = fee_course(session, world)
    held(session, lesson(a, 1), kst(2026, 11, 10, 10), 40)
    published(session, lesson(a, 2), kst(2026, 11, 20, 9))
    held(session, lesson(a, 3), kst(2026, 11, 30, 23, 30), 50)  # 14:30 UTC: still November in Seoul
    published(session, lesson(a, 4), kst(2026, 11, 21), state=VideoState.processing)  # not published
    b = fee_course(session, world)
    b.title = "강좌 B"
    first = held(session, lesson(b, 1), kst(2026, 12, 1, 0, 10), 30)  # 30 Nov UTC, December in Seoul
    held(session, lesson(b, 3), kst(2026, 11, 12), 45, status=LiveStatus.live)  # never ended
    rec = Recording(
        live_session_id=first.id, object_key="rec/1.webm", content_type="video/webm", duration_s=60, size=10
    )
    session.add(rec)
    session.flush()
    published(session, lesson(b, 2), kst(2026, 11, 15), recording_id=rec.id)  # the class itself, paid as held
    published(session, lesson(b, 4), kst(2026, 10, 31, 23, 59))  # October in Seoul
    c = fee_course(session, world, instructor="external", mode="external")
    held(session, lesson(c, 1), kst(2026, 11, 5, 14), 60)
    d = fee_course(session, world)
    d.office_id = world.other_office.id
    held(session, lesson(d, 1), kst(2026, 11, 11), 40)
    session.flush()
    return a, b, c, d


def test_the_rate_is_the_latest_row_valid_on_the_delivery_day(session, world):
    old = rate(session, world, "office", 40_000, date(2026, 1, 1))
    rate(session, world, "office", 50_000, date(2026, 11, 15))
    same_day = rate(session, world, "office", 55_000, date(2026, 11, 15))  # a second change that day wins
    ext = rate(session, world, "external", 70_000, date(2026, 1, 1))
    rows = session.query(FeeRate).all()
    assert fees.pick_rate(rows, InstructorMode.office, date(2025, 12, 31)) is None
    assert fees.pick_rate(rows, InstructorMode.office, date(2026, 11, 14)) is old
    assert fees.pick_rate(rows, InstructorMode.office, date(2026, 11, 15)) is same_day
    assert fees.pick_rate(rows, InstructorMode.office, date(2027, 3, 1)) is same_day
    assert fees.pick_rate(rows, InstructorMode.external, date(2026, 11, 15)) is ext
    assert fees.pick_rate(rows, InstructorMode.school, date(2026, 11, 15)) is None
    table = fees.rate_table(session, world["office_admin"], today=date(2026, 11, 1))
    current = {kind: (now, nxt) for kind, now, nxt in table.current}
    assert current[InstructorMode.office] == (old, same_day)
    assert [r.rate_per_hour for r in table.history][:2] == [55_000, 50_000]


def test_delivered_counts_classes_held_and_lessons_published_in_the_seoul_month(session, world, deliveries):
    a, b, c, _ = deliveries
    got = fees.delivered(session, world.office.id, NOV)
    assert set(got) == {world["instructor"].id, world["external"].id}
    mine = [(d.course_id, d.lesson_number, d.kind, d.hours, d.minutes) for d in got[world["instructor"].id]]
    assert mine == [
        (a.id, 1, FeeLineKind.live, 2, 40),
        (a.id, 2, FeeLineKind.recorded, 2, None),
        (a.id, 3, FeeLineKind.live, 2, 50),
    ]
    assert [(d.course_id, d.minutes) for d in got[world["external"].id]] == [(c.id, 60)]
    december = fees.delivered(session, world.office.id, date(2026, 12, 1))
    assert [(d.course_id, d.lesson_number) for d in december[world["instructor"].id]] == [(b.id, 1)]
    october = fees.delivered(session, world.office.id, date(2026, 10, 1))
    assert [(d.course_id, d.lesson_number) for d in october[world["instructor"].id]] == [(b.id, 4)]


def test_statements_pay_hours_at_the_rate_of_the_day_and_approval_keeps_them(session, world, deliveries):
    admin = world["office_admin"]
    rate(session, world, "office", 50_000, date(2026, 1, 1), points=10)
    rate(session, world, "office", 60_000, date(2026, 11, 25), points=10)  # lesson 3 (30 Nov) is paid at this
    rate(session, world, "external", 70_000, date(2026, 1, 1), points=20)
    result = fees.generate_statements(session, admin, "2026-11")
    assert (result.created, result.refreshed, result.without_rate) == (2, 0, 0)
    rows = {r.statement.instructor_id: r for r in fees.statements(session, admin, "2026-11")}
    mine = rows[world["instructor"].id]
    assert [(x.hours, x.rate, x.amount, x.points) for x in mine.statement.lines] == [
        (2, 50_000, 100_000, 20),
        (2, 50_000, 100_000, 20),
        (2, 60_000, 120_000, 20),
    ]
    assert (mine.totals.sessions, mine.totals.hours, mine.totals.amount, mine.totals.points) == (
        3,
        6,
        320_000,
        60,
    )
    assert mine.totals.minutes == 90
    ext = rows[world["external"].id].totals
    assert (ext.hours, ext.amount, ext.points) == (2, 140_000, 40)

    fees.approve(session, admin, mine.statement)
    assert mine.statement.status == StatementStatus.approved and mine.statement.approved_by_id == admin.id
    rate(session, world, "office", 90_000, date(2026, 11, 1))  # a rate change after approval
    again = fees.generate_statements(session, admin, "2026-11")
    assert (again.approved_kept, again.refreshed, again.created) == (1, 1, 0)
    assert again.not_on_approved == []
    session.expire_all()
    kept = session.get(FeeStatement, mine.statement.id)
    assert fees.totals(kept.lines).amount == 320_000
    with pytest.raises(InvalidTransition):
        fees.approve(session, admin, kept)  # approved twice
    with pytest.raises(InvalidTransition):
        fees.refresh_statement(session, admin, kept)  # an edit of an approved statement

    line = fees.add_correction(
        session, admin, kept, hours=-1, line_id=kept.lines[2].id, reason="1시간 조기 종료"
    )
    assert (line.kind, line.hours, line.rate, line.amount, line.points) == (
        FeeLineKind.correction,
        -1,
        60_000,
        -60_000,
        -10,
    )
    fees.add_correction(session, admin, kept, amount=15_000, reason="교통비")
    assert fees.totals(kept.lines).amount == 320_000 - 60_000 + 15_000
    assert kept.status == StatementStatus.approved


def test_approval_waits_for_the_month_to_end_and_needs_lines(session, world, deliveries):
    admin = world["office_admin"]
    fees.generate_statements(session, admin, "2026-11")
    statement = fees.statements(session, admin, "2026-11")[0].statement
    with pytest.raises(InvalidTransition):
        fees.approve(session, admin, statement, now=kst(2026, 11, 30, 23, 59))
    fees.approve(session, admin, statement, now=kst(2026, 12, 1, 0, 1))
    empty = FeeStatement(office_id=world.office.id, instructor_id=world["teacher"].id, month=NOV)
    session.add(empty)
    session.flush()
    with pytest.raises(InvalidTransition):
        fees.approve(session, admin, empty)


def test_a_late_delivery_of_an_approved_month_is_reported_not_added(session, world, deliveries):
    a, *_ = deliveries
    admin = world["office_admin"]
    fees.generate_statements(session, admin, "2026-11")
    statement = next(
        r.statement
        for r in fees.statements(session, admin, "2026-11")
        if r.statement.instructor_id == world["instructor"].id
    )
    fees.approve(session, admin, statement)
    video = session.query(Video).filter_by(lesson_id=lesson(a, 4).id).one()
    video.state, video.ready_at = (
        VideoState.ready,
        kst(2026, 11, 29),
    )  # its processing finished after approval
    session.flush()
    result = fees.generate_statements(session, admin, "2026-11")
    assert [d.lesson_number for d in result.not_on_approved] == [4]
    assert len(statement.lines) == 3


@pytest.mark.parametrize(
    "change",
    [
        "line_amount",
        "line_delete",
        "unapprove",
        "unapprove_expired",
        "statement_month",
        "rate_edit",
        "new_line",
        "line_moved",
    ],
)
def test_approved_statements_and_rates_are_locked_at_flush(session, world, deliveries, change):
    admin = world["office_admin"]
    r = rate(session, world, "office", 50_000, date(2026, 1, 1))
    fees.generate_statements(session, admin, "2026-11")
    statement = next(
        s.statement
        for s in fees.statements(session, admin, "2026-11")
        if s.statement.instructor_id == world["instructor"].id
    )
    fees.approve(session, admin, statement)
    session.flush()
    if change == "line_amount":
        statement.lines[0].amount = 1
    elif change == "line_delete":
        session.delete(statement.lines[0])
    elif change == "unapprove":
        statement.status = StatementStatus.draft
    elif change == "unapprove_expired":
        session.expire(statement)  # no loaded status to compare with: the guard asks the database
        statement.status = StatementStatus.draft
    elif change == "line_moved":
        draft = FeeStatement(office_id=world.office.id, instructor_id=world["teacher"].id, month=NOV)
        session.add(draft)
        session.flush()
        statement.lines[0].statement = draft
    elif change == "statement_month":
        statement.month = date(2026, 10, 1)
    elif change == "rate_edit":
        r.rate_per_hour = 1
    else:
        statement.lines.append(
            FeeLine(kind=FeeLineKind.live, hours=1, rate=1, amount=1, points=0, created_by_id=admin.id)
        )
    with pytest.raises(FeeLocked):
        session.flush()
    session.rollback()


def test_corrections_need_an_approved_statement_a_reason_and_one_of_hours_or_amount(
    session, world, deliveries
):
    admin = world["office_admin"]
    fees.generate_statements(session, admin, "2026-11")
    statement = fees.statements(session, admin, "2026-11")[0].statement
    with pytest.raises(InvalidTransition):
        fees.add_correction(session, admin, statement, amount=1000, reason="사유 있음")
    fees.approve(session, admin, statement)
    cases = [
        (dict(amount=1000, reason="x"), "reason"),
        (dict(amount=1000, reason="가" * 501), "reason"),
        (dict(reason="사유 있음"), "amount"),
        (dict(amount=1000, hours=1, line_id=statement.lines[0].id, reason="사유 있음"), "amount"),
        (dict(amount=0, reason="사유 있음"), "amount"),
        (dict(amount=100_000_001, reason="사유 있음"), "amount"),
        (dict(hours=1, reason="사유 있음"), "line_id"),
        (dict(hours=0, line_id=statement.lines[0].id, reason="사유 있음"), "hours"),
        (dict(hours=101, line_id=statement.lines[0].id, reason="사유 있음"), "hours"),
        (dict(hours=1, line_id=10**9, reason="사유 있음"), "line_id"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as err:
            fees.add_correction(session, admin, statement, **kwargs)
        assert field in err.value.errors, kwargs
    assert all(x.kind != FeeLineKind.correction for x in statement.lines)


def test_who_sees_which_statement(session, world, deliveries):
    admin = world["office_admin"]
    fees.generate_statements(session, admin, "2026-11")
    by = {r.statement.instructor_id: r.statement for r in fees.statements(session, admin, "2026-11")}
    mine, theirs = by[world["instructor"].id], by[world["external"].id]
    assert fees.get_statement(session, world["instructor"], mine.id) is mine
    assert [r.statement for r in fees.statements(session, world["instructor"])] == [mine]
    with pytest.raises(NotFound):
        fees.get_statement(session, world["instructor"], theirs.id)
    with pytest.raises(NotFound):
        fees.get_statement(session, world["other_office_admin"], mine.id)
    with pytest.raises(NotFound):
        fees.approve(session, world["other_office_admin"], mine)
    assert fees.statements(session, world["other_office_admin"], "2026-11") == []
    with pytest.raises(Forbidden):
        fees.statements(session, world["student"])
    with pytest.raises(Forbidden):
        fees.generate_statements(session, world["instructor"], "2026-11")
    with pytest.raises(Forbidden):
        fees.set_rate(
            session,
            world["school_admin"],
            instructor_type="office",
            rate_per_hour=1,
            points_per_hour=0,
            valid_from=date(2026, 1, 1),
        )


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("2026-11", date(2026, 11, 1)),
        (" 2026-01 ", date(2026, 1, 1)),
        ("2026-13", None),
        ("2026-00", None),
        ("26-11", None),
        ("2026/11", None),
        ("", None),
        (None, None),
        ("1999-12", None),
        ("٢٠٢٦-١١", None),
    ],
)
def test_months_are_yyyy_mm(raw, ok):
    e = Errors()
    assert fees.parse_month(e, raw) == ok
    assert bool(e) is (ok is None)


def test_set_rate_validates_its_fields(session, world):
    with pytest.raises(ValidationError) as err:
        fees.set_rate(
            session,
            world["office_admin"],
            instructor_type="nobody",
            rate_per_hour=-1,
            points_per_hour=10_000_001,
            valid_from=None,
        )
    assert set(err.value.errors) == {"instructor_type", "rate_per_hour", "points_per_hour", "valid_from"}


def test_demo_rates_are_added_once(session, world):
    assert fees.seed_demo_fee_rates(session, world.office) == len(InstructorMode)
    assert fees.seed_demo_fee_rates(session, world.office) == 0
    table = fees.rate_table(session, world["office_admin"])
    assert all(now is not None for _, now, _ in table.current)


def test_a_teacher_paid_as_the_courses_instructor_gets_a_statement_at_their_types_rate(session, world):
    course = fee_course(session, world, instructor="teacher", mode="homeroom")
    held(session, lesson(course, 1), kst(2026, 11, 3), 40)
    rate(session, world, "homeroom", 20_000, date(2026, 1, 1), points=5)
    rate(session, world, "office", 50_000, date(2026, 1, 1))
    fees.generate_statements(session, world["office_admin"], "2026-11")
    [row] = fees.statements(session, world["teacher"])
    assert row.statement.instructor_id == world["teacher"].id
    assert (row.totals.hours, row.totals.amount, row.totals.points) == (2, 40_000, 10)
    assert fees.statements(session, world["teacher2"]) == []


def test_lessons_without_a_rate_are_counted_at_zero_and_reported(session, world, deliveries):
    result = fees.generate_statements(session, world["office_admin"], "2026-11")
    assert result.without_rate == 4  # three of `instructor`, one of `external`
    rows = fees.statements(session, world["office_admin"], "2026-11")
    assert all(x.fee_rate_id is None and x.amount == 0 for r in rows for x in r.statement.lines)
    rate(session, world, "office", 50_000, date(2026, 1, 1))
    again = fees.generate_statements(session, world["office_admin"], "2026-11")
    assert (again.refreshed, again.without_rate) == (2, 1)


def test_an_instructor_with_another_offices_statement_that_month_is_left_to_it(session, world, deliveries):
    session.add(
        FeeStatement(office_id=world.other_office.id, instructor_id=world["instructor"].id, month=NOV)
    )
    session.flush()
    result = fees.generate_statements(session, world["office_admin"], "2026-11")
    assert result.created == 1
    rows = fees.statements(session, world["office_admin"], "2026-11")
    assert [r.statement.instructor_id for r in rows] == [world["external"].id]
