"""Instructor fees (강사료) and points: hours from what was really delivered, the office's rate table, monthly
statements the office approves, and corrections after approval as new lines with a reason.

Delivered means: a live lesson whose class was held (its LiveSession started and ended, from the SFU's
records and the teacher ending the class), in the month it started; a recorded lesson whose video became
ready, in the month it did (``Video.ready_at``). A class recording published as a recorded lesson is not a
second delivery: the class was paid as held. Months are Seoul months. The hours paid are the lesson's
``credit_hours``; the rate is the instructor type's latest rate valid on the day it was delivered.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from courses import text
from courses.db import affected, utcnow
from courses.errors import N_, Errors, InvalidTransition, NotFound
from courses.models import (
    Course,
    FeeLine,
    FeeLineKind,
    FeeRate,
    FeeStatement,
    InstructorMode,
    Lesson,
    LessonKind,
    LiveSession,
    LiveStatus,
    Organisation,
    Role,
    StatementStatus,
    User,
    Video,
    VideoState,
)
from courses.policy import require

SEOUL = ZoneInfo("Asia/Seoul")
RATE_MAX = 10_000_000  # won (or points) per hour
REASON_MIN, REASON_MAX = 2, 500
CORRECTION_HOURS_MAX = 100
CORRECTION_AMOUNT_MAX = 100_000_000
YEAR_MIN, YEAR_MAX = 2000, 2100
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")

INSTRUCTOR_TYPE_LABELS = {
    InstructorMode.office: N_("교육청 강사"),
    InstructorMode.external: N_("외부 강사"),
    InstructorMode.school: N_("학교 지정 교사"),
    InstructorMode.homeroom: N_("담임 교사"),
}
STATUS_LABELS = {StatementStatus.draft: N_("작성 중"), StatementStatus.approved: N_("승인됨")}
KIND_LABELS = {
    FeeLineKind.live: N_("실시간 수업"),
    FeeLineKind.recorded: N_("녹화 강의"),
    FeeLineKind.correction: N_("정정"),
}


# -- months ------------------------------------------------------------------------------------------


def current_month(now: datetime | None = None) -> date:
    """The first day of this month in Seoul."""
    local = (now or utcnow()).astimezone(SEOUL)
    return date(local.year, local.month, 1)


def parse_month(e: Errors, value: str | date | None, key: str = "month") -> date | None:
    """A YYYY-MM month as its first day, or a field error."""
    if isinstance(value, date):
        return value.replace(day=1)
    m = _MONTH.fullmatch((value or "").strip())
    if m is None:
        e.add(key, N_("월은 YYYY-MM 형식으로 입력하세요."))
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        e.add(key, N_("월은 YYYY-MM 형식으로 입력하세요."))
        return None
    if not YEAR_MIN <= year <= YEAR_MAX:
        e.add(key, N_("%(min)d년~%(max)d년 사이의 달을 입력하세요."), min=YEAR_MIN, max=YEAR_MAX)
        return None
    return date(year, month, 1)


def _month(value: str | date) -> date:
    e = Errors()
    month = parse_month(e, value)
    e.raise_if_any()
    assert month is not None
    return month


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a Seoul month, in UTC."""
    start = datetime(month.year, month.month, 1, tzinfo=SEOUL)
    end_day = next_month(month)
    end = datetime(end_day.year, end_day.month, 1, tzinfo=SEOUL)
    return start.astimezone(UTC), end.astimezone(UTC)


def local_day(at: datetime) -> date:
    """The Seoul calendar day of an instant."""
    return at.astimezone(SEOUL).date()


# -- the rate table ------------------------------------------------------------------------------------


def _office_admin(actor: User) -> None:
    require(actor.role == Role.office_admin)


def _rates(session: Session, office_id: int) -> list[FeeRate]:
    return list(
        session.scalars(
            select(FeeRate)
            .where(FeeRate.office_id == office_id)
            .order_by(FeeRate.instructor_type, FeeRate.valid_from.desc(), FeeRate.id.desc())
        )
    )


def pick_rate(rates: Sequence[FeeRate], instructor_type: InstructorMode, day: date) -> FeeRate | None:
    """The rate for a lesson delivered on `day`: the latest row of the type valid by then (ties: the newer row)."""
    best: FeeRate | None = None
    for rate in rates:
        if rate.instructor_type != instructor_type or rate.valid_from > day:
            continue
        if best is None or (rate.valid_from, rate.id) > (best.valid_from, best.id):
            best = rate
    return best


def set_rate(
    session: Session,
    actor: User,
    *,
    instructor_type: str,
    rate_per_hour: int | None,
    points_per_hour: int | None,
    valid_from: date | None,
) -> FeeRate:
    """Add a row to the office's rate table (a change is always a new row, valid from a date)."""
    _office_admin(actor)
    e = Errors()
    try:
        kind = InstructorMode(instructor_type)
    except ValueError:
        e.add("instructor_type", N_("강사 구분을 선택하세요."))
    for key, value in (("rate_per_hour", rate_per_hour), ("points_per_hour", points_per_hour)):
        if value is None or isinstance(value, bool) or not 0 <= value <= RATE_MAX:
            e.add(key, N_("0~%(max)s 사이의 숫자를 입력하세요."), max=f"{RATE_MAX:,}")
    if valid_from is None:
        e.add("valid_from", N_("적용 시작일을 입력하세요."))
    elif not YEAR_MIN <= valid_from.year <= YEAR_MAX:
        e.add("valid_from", N_("%(min)d년~%(max)d년 사이의 날짜를 입력하세요."), min=YEAR_MIN, max=YEAR_MAX)
    e.raise_if_any()
    assert valid_from is not None and rate_per_hour is not None and points_per_hour is not None
    rate = FeeRate(
        office_id=actor.office_id,
        instructor_type=kind,
        rate_per_hour=rate_per_hour,
        points_per_hour=points_per_hour,
        valid_from=valid_from,
        created_by_id=actor.id,
    )
    session.add(rate)
    session.flush()
    return rate


@dataclass(frozen=True)
class RateTable:
    """Per instructor type the rate valid today and the next one already set; every row, newest first."""

    current: list[tuple[InstructorMode, FeeRate | None, FeeRate | None]]
    history: list[FeeRate]


def rate_table(session: Session, actor: User, *, today: date | None = None) -> RateTable:
    """The office's rate table: what applies today per instructor type, what comes next, and the history."""
    _office_admin(actor)
    rates = _rates(session, actor.office_id)
    today = today or local_day(utcnow())
    current = []
    for kind in InstructorMode:
        upcoming = [r for r in rates if r.instructor_type == kind and r.valid_from > today]
        nxt = min(upcoming, key=lambda r: (r.valid_from, -r.id)) if upcoming else None
        current.append((kind, pick_rate(rates, kind, today), nxt))
    history = sorted(rates, key=lambda r: (r.valid_from, r.id), reverse=True)
    return RateTable(current=current, history=history)


# -- what was delivered ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One lesson an instructor delivered: a live class held, or a recorded lesson published."""

    instructor_id: int
    course_id: int
    course_title: str
    instructor_type: InstructorMode
    lesson_id: int
    lesson_number: int
    lesson_title: str
    kind: FeeLineKind
    delivered_at: datetime
    hours: int
    minutes: int | None = None  # live: the minutes really held

    @property
    def description(self) -> str:
        return f"{self.course_title} · {self.lesson_number}. {self.lesson_title}"[:300]


def delivered(session: Session, office_id: int, month: date) -> dict[int, list[Delivery]]:
    """Per instructor (the course's instructor), the lessons delivered in a Seoul month in the office's courses."""
    start, end = month_bounds(month)
    columns = (
        Course.instructor_id,
        Course.id,
        Course.title,
        Course.instructor_mode,
        Lesson.id,
        Lesson.number,
        Lesson.title,
        Lesson.credit_hours,
    )
    live = session.execute(
        select(*columns, LiveSession.started_at, LiveSession.ended_at)
        .join(Lesson, Lesson.id == LiveSession.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(
            Course.office_id == office_id,
            Course.instructor_id.is_not(None),
            Lesson.kind == LessonKind.live,
            LiveSession.status == LiveStatus.ended,
            LiveSession.started_at.is_not(None),
            LiveSession.started_at >= start,
            LiveSession.started_at < end,
        )
    )
    ready_at = func.coalesce(Video.ready_at, Video.created_at)
    recorded = session.execute(
        select(*columns, ready_at)
        .join(Lesson, Lesson.id == Video.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .where(
            Course.office_id == office_id,
            Course.instructor_id.is_not(None),
            Lesson.kind == LessonKind.recorded,
            Video.state == VideoState.ready,
            Video.recording_id.is_(None),  # a published class recording: the class was paid as held
            ready_at >= start,
            ready_at < end,
        )
    )
    out: dict[int, list[Delivery]] = defaultdict(list)
    for who, cid, title, mode, lid, number, ltitle, hours, started, ended in live:
        assert who is not None and started is not None  # the query's filters
        minutes = max(0, round((ended - started).total_seconds() / 60)) if ended is not None else 0
        out[who].append(
            Delivery(who, cid, title, mode, lid, number, ltitle, FeeLineKind.live, started, hours, minutes)
        )
    for who, cid, title, mode, lid, number, ltitle, hours, at in recorded:
        assert who is not None
        out[who].append(Delivery(who, cid, title, mode, lid, number, ltitle, FeeLineKind.recorded, at, hours))
    for items in out.values():
        items.sort(key=lambda d: (d.delivered_at, d.course_id, d.lesson_number))
    return dict(out)


def _line(d: Delivery, rates: Sequence[FeeRate], actor: User) -> FeeLine:
    rate = pick_rate(rates, d.instructor_type, local_day(d.delivered_at))
    per_hour = rate.rate_per_hour if rate else 0
    points_per_hour = rate.points_per_hour if rate else 0
    return FeeLine(
        course_id=d.course_id,
        lesson_id=d.lesson_id,
        kind=d.kind,
        delivered_at=d.delivered_at,
        description=d.description,
        minutes=d.minutes,
        hours=d.hours,
        rate=per_hour,
        points_per_hour=points_per_hour,
        amount=d.hours * per_hour,
        points=d.hours * points_per_hour,
        fee_rate_id=rate.id if rate else None,
        created_by_id=actor.id,
    )


# -- statements ------------------------------------------------------------------------------------------


@dataclass
class Generated:
    """What generating a month did."""

    created: int = 0
    refreshed: int = 0
    removed: int = 0  # drafts of instructors with nothing delivered any more
    approved_kept: int = 0
    # Deliveries of instructors whose statement is already approved and does not list them: add corrections.
    not_on_approved: list[Delivery] = field(default_factory=list)
    without_rate: int = 0  # lines paid at 0 because no rate was valid for their type and day


def generate_statements(session: Session, actor: User, month: str | date) -> Generated:
    """Create or refresh the draft statements of a month for every instructor who delivered in the office.

    Approved statements are left as they are; what they miss is reported so a correction can be added."""
    _office_admin(actor)
    m = _month(month)
    by_instructor = delivered(session, actor.office_id, m)
    rates = _rates(session, actor.office_id)
    existing = {
        s.instructor_id: s
        for s in session.scalars(
            select(FeeStatement)
            .options(selectinload(FeeStatement.lines))
            .where(FeeStatement.office_id == actor.office_id, FeeStatement.month == m)
        )
    }
    elsewhere = set(
        session.scalars(
            select(FeeStatement.instructor_id).where(
                FeeStatement.month == m,
                FeeStatement.office_id != actor.office_id,
                FeeStatement.instructor_id.in_(list(by_instructor)),
            )
        )
    )
    out = Generated()
    for instructor_id, items in sorted(by_instructor.items()):
        if instructor_id in elsewhere:  # one statement per instructor and month; another office has it
            continue
        statement = existing.get(instructor_id)
        if statement is not None and statement.status == StatementStatus.approved:
            out.approved_kept += 1
            listed = {(line.kind, line.lesson_id) for line in statement.lines}
            out.not_on_approved += [d for d in items if (d.kind, d.lesson_id) not in listed]
            continue
        if statement is None:
            statement = FeeStatement(office_id=actor.office_id, instructor_id=instructor_id, month=m)
            session.add(statement)
            out.created += 1
        else:
            statement.lines.clear()
            out.refreshed += 1
        for d in items:
            line = _line(d, rates, actor)
            out.without_rate += line.fee_rate_id is None
            statement.lines.append(line)
    for instructor_id, statement in existing.items():
        if instructor_id not in by_instructor and statement.status == StatementStatus.draft:
            session.delete(statement)
            out.removed += 1
    session.flush()
    return out


def refresh_statement(session: Session, actor: User, statement: FeeStatement) -> FeeStatement:
    """Recompute one draft statement from what was delivered and today's rate table."""
    _office_admin(actor)
    _in_office(actor, statement)
    if statement.status != StatementStatus.draft:
        raise InvalidTransition(N_("승인된 명세서는 고칠 수 없습니다. 정정 줄을 추가하세요."))
    items = delivered(session, actor.office_id, statement.month).get(statement.instructor_id, [])
    rates = _rates(session, actor.office_id)
    statement.lines.clear()
    for d in items:
        statement.lines.append(_line(d, rates, actor))
    session.flush()
    return statement


def approve(session: Session, actor: User, statement: FeeStatement, *, now: datetime | None = None) -> None:
    """The office approves a draft statement once its month is over; from then on it is history."""
    _office_admin(actor)
    _in_office(actor, statement)
    if statement.status == StatementStatus.approved:
        raise InvalidTransition(N_("이미 승인된 명세서입니다."))
    now = now or utcnow()
    if statement.month >= current_month(now):
        raise InvalidTransition(N_("그 달이 끝난 뒤에 승인할 수 있습니다."))
    if not statement.lines:
        raise InvalidTransition(N_("차시가 없는 명세서는 승인할 수 없습니다."))
    session.flush()
    # Conditional on the status still being draft: of two approvals at once, one wins and one is refused.
    done = session.execute(
        update(FeeStatement)
        .where(FeeStatement.id == statement.id, FeeStatement.status == StatementStatus.draft)
        .values(status=StatementStatus.approved, approved_by_id=actor.id, approved_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if affected(done) != 1:
        raise InvalidTransition(N_("이미 승인된 명세서입니다."))


def add_correction(
    session: Session,
    actor: User,
    statement: FeeStatement,
    *,
    reason: str,
    hours: int | None = None,
    amount: int | None = None,
    line_id: int | None = None,
) -> FeeLine:
    """A correction after approval: a new line with a reason, by hours of one line (at its rate) or by amount."""
    _office_admin(actor)
    _in_office(actor, statement)
    if statement.status != StatementStatus.approved:
        raise InvalidTransition(
            N_("정정은 승인된 명세서에만 추가합니다. 작성 중인 명세서는 다시 계산하세요.")
        )
    e = Errors()
    reason = text.clean(reason, multiline=True)
    if not REASON_MIN <= text.visible_length(reason) <= REASON_MAX:
        e.add("reason", N_("사유를 %(min)d~%(max)d자로 입력하세요."), min=REASON_MIN, max=REASON_MAX)
    target: FeeLine | None = None
    if line_id is not None:
        target = next(
            (x for x in statement.lines if x.id == line_id and x.kind != FeeLineKind.correction), None
        )
        if target is None:
            e.add("line_id", N_("이 명세서의 차시가 아닙니다."))
    if hours is None and amount is None:
        e.add("amount", N_("정정할 시수나 금액을 입력하세요."))
    elif hours is not None and amount is not None:
        e.add("amount", N_("시수와 금액 중 하나만 입력하세요."))
    elif hours is not None:
        if hours == 0 or abs(hours) > CORRECTION_HOURS_MAX:
            e.add(
                "hours", N_("-%(max)d~%(max)d 사이의 0이 아닌 시수를 입력하세요."), max=CORRECTION_HOURS_MAX
            )
        if line_id is None:
            e.add("line_id", N_("시수를 정정할 차시를 고르세요."))
    elif amount is not None and (amount == 0 or abs(amount) > CORRECTION_AMOUNT_MAX):
        e.add(
            "amount",
            N_("-%(max)s~%(max)s원 사이의 0이 아닌 금액을 입력하세요."),
            max=f"{CORRECTION_AMOUNT_MAX:,}",
        )
    e.raise_if_any()
    if target is not None and hours is not None:  # hours of one line, paid at that line's rate
        paid = (
            hours,
            target.rate,
            target.points_per_hour,
            hours * target.rate,
            hours * target.points_per_hour,
        )
        rate_id = target.fee_rate_id
    else:
        paid, rate_id = (0, 0, 0, amount or 0, 0), None
    line = FeeLine(
        statement=statement,
        course_id=target.course_id if target else None,
        lesson_id=target.lesson_id if target else None,
        kind=FeeLineKind.correction,
        delivered_at=None,
        description=target.description if target else "",
        minutes=None,
        hours=paid[0],
        rate=paid[1],
        points_per_hour=paid[2],
        amount=paid[3],
        points=paid[4],
        fee_rate_id=rate_id,
        reason=reason,
        corrects_id=target.id if target else None,
        created_by_id=actor.id,
    )
    session.add(line)
    session.flush()
    return line


def _in_office(actor: User, statement: FeeStatement) -> None:
    if statement.office_id != actor.office_id:
        raise NotFound()


@dataclass(frozen=True)
class Totals:
    """A statement's sums: lessons delivered (corrections not counted as sessions), hours, won, points."""

    sessions: int
    live: int
    recorded: int
    minutes: int
    hours: int
    amount: int
    points: int
    corrections: int


def totals(lines: Sequence[FeeLine]) -> Totals:
    """The sums of a statement's lines (corrections included in hours, amount and points)."""
    return Totals(
        sessions=sum(1 for x in lines if x.kind != FeeLineKind.correction),
        live=sum(1 for x in lines if x.kind == FeeLineKind.live),
        recorded=sum(1 for x in lines if x.kind == FeeLineKind.recorded),
        minutes=sum(x.minutes or 0 for x in lines),
        hours=sum(x.hours for x in lines),
        amount=sum(x.amount for x in lines),
        points=sum(x.points for x in lines),
        corrections=sum(1 for x in lines if x.kind == FeeLineKind.correction),
    )


@dataclass(frozen=True)
class StatementRow:
    """A statement in a list, with its instructor and sums."""

    statement: FeeStatement
    instructor_name: str
    totals: Totals


def statements(session: Session, actor: User, month: str | date | None = None) -> list[StatementRow]:
    """Office admins: their office's statements of a month; anyone else: their own (of a month, or all)."""
    m = _month(month) if month is not None else None
    stmt = (
        select(FeeStatement)
        .join(User, User.id == FeeStatement.instructor_id)
        .options(selectinload(FeeStatement.lines), selectinload(FeeStatement.instructor))
    )
    if actor.role == Role.office_admin:
        if m is None:
            m = current_month()
        stmt = stmt.where(FeeStatement.office_id == actor.office_id).order_by(User.name, FeeStatement.id)
    else:
        require(actor.role in (Role.instructor, Role.teacher))
        stmt = stmt.where(FeeStatement.instructor_id == actor.id).order_by(FeeStatement.month.desc())
    if m is not None:
        stmt = stmt.where(FeeStatement.month == m)
    return [StatementRow(s, s.instructor.name, totals(s.lines)) for s in session.scalars(stmt)]


def get_statement(session: Session, actor: User, statement_id: int) -> FeeStatement:
    """One statement: the office's for its admins, one's own for an instructor; NotFound otherwise."""
    statement = session.get(FeeStatement, statement_id)
    if statement is None:
        raise NotFound()
    if actor.role == Role.office_admin:
        if statement.office_id != actor.office_id:
            raise NotFound()
    elif statement.instructor_id != actor.id:
        raise NotFound()
    return statement


def office_name(session: Session, statement: FeeStatement) -> str:
    """The name of the office a statement belongs to (for exports' title rows)."""
    return session.scalar(select(Organisation.name).where(Organisation.id == statement.office_id)) or ""


# -- demo ---------------------------------------------------------------------------------------------------

DEMO_RATES = {
    InstructorMode.office: (50_000, 10),
    InstructorMode.external: (60_000, 10),
    InstructorMode.school: (30_000, 5),
    InstructorMode.homeroom: (0, 5),
}


def seed_demo_fee_rates(session: Session, office: Organisation, *, valid_from: date | None = None) -> int:
    """A default rate table for the demo office (once): one row per instructor type; how many were added."""
    if session.scalar(select(FeeRate.id).where(FeeRate.office_id == office.id).limit(1)) is not None:
        return 0
    admin = session.scalar(
        select(User)
        .where(User.office_id == office.id, User.role == Role.office_admin)
        .order_by(User.id)
        .limit(1)
    )
    if admin is None:
        return 0
    start = valid_from or date(current_month().year, 1, 1)
    for kind, (won, points) in DEMO_RATES.items():
        session.add(
            FeeRate(
                office_id=office.id,
                instructor_type=kind,
                rate_per_hour=won,
                points_per_hour=points,
                valid_from=start,
                created_by_id=admin.id,
            )
        )
    session.flush()
    return len(DEMO_RATES)
