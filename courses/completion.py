"""Completion (이수) and credit hours (수업시수): the one home of the rules, the schools' confirmation, transcripts.

A student completes a lesson by watching enough of its video (the union of played intervals, against the
course's ``watch_threshold_pct``) or by being present for enough of its live session (against
``completion_threshold_pct``). They complete the course when every *required* lesson is done. Before the
course ends every required lesson counts; at confirmation a lesson that was never held (no live session
started, no video published) cannot be done by anyone, so it is left out of the requirement and of the
hours, and the school is warned about it. A completed student is granted the credit hours of the lessons
that counted.

The school confirms for its own students (a course shared by several schools is confirmed by each). The
confirmation and its records are written once and locked (``courses.models.completion``); un-confirming
needs a reason, is logged in the course's history and keeps the old records as history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses import text
from courses.db import utcnow
from courses.errors import N_, Errors, Forbidden, InvalidTransition, NotFound
from courses.labels import class_label
from courses.models import (
    Attendance,
    ClassMembership,
    CompletionConfirmation,
    CompletionRecord,
    Course,
    CourseStatus,
    Enrolment,
    EventKind,
    Lesson,
    LessonKind,
    LiveSession,
    MemberRole,
    NoticeCategory,
    Organisation,
    ParentLink,
    Role,
    SchoolClass,
    Theme,
    User,
    Video,
    VideoState,
    WatchProgress,
)
from courses.notifications import notify_many, with_parents
from courses.policy import Rel, relations, require_action, results_school

MIN_PCT, MAX_PCT = 50, 100
MAX_LESSON_HOURS = 20


def school_year_of(day: date) -> int:
    """The Korean school year a day belongs to (it starts on 1 March)."""
    return day.year if day.month >= 3 else day.year - 1


# ---------------------------------------------------------------------------------------------------
# The rules, pure.


@dataclass(frozen=True, slots=True)
class LessonFact:
    """What completion needs to know of one lesson."""

    id: int
    number: int
    title: str
    kind: LessonKind
    required: bool
    credit_hours: int
    held: bool  # a live session was started / a video was published
    needed_s: float  # seconds of video, or scheduled seconds of the live session
    starts_at: datetime | None
    live_id: int | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    """One student's state in one lesson: percent watched or attended, and whether it is done."""

    pct: float
    done: bool

    @property
    def started(self) -> bool:
        """Whether the student did anything in this lesson."""
        return self.pct > 0


EMPTY = Cell(0.0, False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A student's standing against the rules."""

    done: int  # required lessons done (of those that count)
    required: int  # required lessons that count
    completed: bool
    hours: int  # credit hours granted if confirmed now
    live_left: int
    recorded_left: int
    active: bool  # any activity at all


def lesson_done(kind: LessonKind, seconds: float, needed_s: float, watch_pct: int, attend_pct: int) -> Cell:
    """The cell of a lesson from the seconds watched or attended."""
    if needed_s <= 0:
        return EMPTY
    pct = min(100.0, 100.0 * seconds / needed_s)
    threshold = watch_pct if kind == LessonKind.recorded else attend_pct
    return Cell(round(pct, 1), seconds * 100 >= needed_s * threshold - 1e-6)


def evaluate(facts: Sequence[LessonFact], cells: dict[int, Cell], *, final: bool) -> Outcome:
    """A student's outcome. ``final``: the course is over, so lessons never held do not count."""
    counted = [f for f in facts if f.required and (f.held or not final)]
    done = [f for f in counted if cells.get(f.id, EMPTY).done]
    left = [f for f in counted if not cells.get(f.id, EMPTY).done]
    completed = bool(counted) and not left
    return Outcome(
        done=len(done),
        required=len(counted),
        completed=completed,
        hours=sum(f.credit_hours for f in counted) if completed else 0,
        live_left=sum(1 for f in left if f.kind == LessonKind.live),
        recorded_left=sum(1 for f in left if f.kind == LessonKind.recorded),
        active=any(c.started for c in cells.values()),
    )


# ---------------------------------------------------------------------------------------------------
# Facts and cells from the database.


def lesson_facts(session: Session, course: Course) -> list[LessonFact]:
    """Every lesson of the course with whether it was held and what it takes, in one query."""
    stmt = (
        select(Lesson, LiveSession, Video.duration_s, Video.state)
        .outerjoin(LiveSession, LiveSession.lesson_id == Lesson.id)
        .outerjoin(Video, Video.lesson_id == Lesson.id)
        .where(Lesson.course_id == course.id)
        .order_by(Lesson.number)
    )
    out = []
    for lesson, live, duration, state in session.execute(stmt):
        if lesson.kind == LessonKind.live:
            needed = (live.ends_at - live.starts_at).total_seconds() if live else 0.0
            held = bool(live and live.started_at is not None)
        else:
            needed = float(duration or 0) if state == VideoState.ready else 0.0
            held = state == VideoState.ready
        out.append(
            LessonFact(
                lesson.id,
                lesson.number,
                lesson.title,
                lesson.kind,
                lesson.required,
                lesson.credit_hours,
                held,
                max(0.0, needed),
                (live.starts_at if live else None) or lesson.starts_at,
                live.id if live else None,
            )
        )
    return out


def cells_for(
    session: Session, course: Course, facts: Sequence[LessonFact], student_ids: Iterable[int] | None = None
) -> dict[int, dict[int, Cell]]:
    """Per student id, per lesson id: the cell. Two queries (watch progress, attendance)."""
    by_id = {f.id: f for f in facts}
    seconds: dict[tuple[int, int], float] = {}
    ids = None if student_ids is None else list(student_ids)
    recorded = [f.id for f in facts if f.kind == LessonKind.recorded and f.held]
    if recorded:
        stmt = select(WatchProgress.user_id, WatchProgress.lesson_id, WatchProgress.watched_s).where(
            WatchProgress.lesson_id.in_(recorded)
        )
        if ids is not None:
            stmt = stmt.where(WatchProgress.user_id.in_(ids))
        for uid, lid, w in session.execute(stmt):
            seconds[(uid, lid)] = float(w)
    live = {f.live_id: f.id for f in facts if f.live_id is not None}
    if live:
        stmt2 = select(Attendance.user_id, Attendance.live_session_id, Attendance.present_seconds).where(
            Attendance.live_session_id.in_(live)
        )
        if ids is not None:
            stmt2 = stmt2.where(Attendance.user_id.in_(ids))
        for uid, lsid, present in session.execute(stmt2):
            seconds[(uid, live[lsid])] = float(present)
    out: dict[int, dict[int, Cell]] = {}
    for (uid, lid), s in seconds.items():
        f = by_id[lid]
        out.setdefault(uid, {})[lid] = lesson_done(
            f.kind, s, f.needed_s, course.watch_threshold_pct, course.completion_threshold_pct
        )
    return out


@dataclass(frozen=True, slots=True)
class StudentRow:
    """One enrolled student across the course's lessons."""

    user_id: int
    name: str
    school_id: int
    class_id: int | None
    class_label: str
    number: int | None
    cells: dict[int, Cell]
    outcome: Outcome


@dataclass
class Matrix:
    """Students × lessons of one course, as one school (or everyone) sees it."""

    course: Course
    facts: list[LessonFact]
    rows: list[StudentRow]
    final: bool
    school_id: int | None = None
    classes: list[tuple[int, str]] = field(default_factory=list)

    @property
    def never_held(self) -> list[LessonFact]:
        """Required lessons that were never held (left out at confirmation)."""
        return [f for f in self.facts if f.required and not f.held]

    @property
    def inactive(self) -> list[StudentRow]:
        """Students with no activity at all."""
        return [r for r in self.rows if not r.outcome.active]

    @property
    def completed(self) -> int:
        """How many students completed."""
        return sum(1 for r in self.rows if r.outcome.completed)

    @property
    def hours(self) -> int:
        """Credit hours the rows would be granted."""
        return sum(r.outcome.hours for r in self.rows)

    @property
    def possible_hours(self) -> int:
        """Credit hours a completing student is granted."""
        return sum(f.credit_hours for f in self.facts if f.required and (f.held or not self.final))

    def behind(self) -> list[StudentRow]:
        """Students who have not done every required lesson already held."""
        held = [f for f in self.facts if f.required and f.held]
        return [r for r in self.rows if any(not r.cells.get(f.id, EMPTY).done for f in held)]


def _students(session: Session, course: Course, school_id: int | None, class_id: int | None, ids=None):  # type: ignore[no-untyped-def]
    stmt = (
        select(
            User.id,
            User.name,
            User.org_id,
            SchoolClass.id,
            SchoolClass.grade,
            SchoolClass.name,
            ClassMembership.number,
        )
        .join(Enrolment, and_(Enrolment.student_id == User.id, Enrolment.course_id == course.id))
        .outerjoin(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
        )
        .outerjoin(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .order_by(SchoolClass.grade, SchoolClass.name, ClassMembership.number, User.name, User.id)
    )
    if school_id is not None:
        stmt = stmt.where(User.org_id == school_id)
    if class_id is not None:
        stmt = stmt.where(SchoolClass.id == class_id)
    if ids is not None:
        stmt = stmt.where(User.id.in_(ids))
    return session.execute(stmt).all()


def is_final(course: Course) -> bool:
    """Whether the course is over (lessons never held no longer count)."""
    return course.status not in (CourseStatus.approved, CourseStatus.running, CourseStatus.submitted)


def build_matrix(
    session: Session,
    course: Course,
    *,
    school_id: int | None = None,
    class_id: int | None = None,
    student_ids: Iterable[int] | None = None,
) -> Matrix:
    """The matrix for these students (no access check: callers check)."""
    facts = lesson_facts(session, course)
    final = is_final(course)
    people = _students(
        session, course, school_id, class_id, None if student_ids is None else list(student_ids)
    )
    cells = cells_for(session, course, facts, None if len(people) > 500 else [p[0] for p in people])
    rows = []
    classes: dict[int, str] = {}
    for uid, name, org_id, cid, grade, cname, number in people:
        label = class_label(grade, cname) if grade else ""
        if cid:
            classes[cid] = label
        mine = cells.get(uid, {})
        rows.append(
            StudentRow(uid, name, org_id, cid, label, number, mine, evaluate(facts, mine, final=final))
        )
    return Matrix(course, facts, rows, final, school_id, sorted(classes.items(), key=lambda kv: kv[1]))


def course_matrix(session: Session, actor: User, course: Course, *, class_id: int | None = None) -> Matrix:
    """The class's progress at a glance for its teachers and admins (a school sees its own students)."""
    require_action(session, actor, course, "view_results")
    school_id = results_school(session, actor, course)
    if actor.role == Role.teacher and school_id is not None:
        school_id = actor.org_id
    return build_matrix(session, course, school_id=school_id, class_id=class_id)


def own_standing(session: Session, actor: User, course: Course) -> tuple[list[LessonFact], StudentRow | None]:
    """The course's lessons and an enrolled student's own row (None when the actor is not enrolled)."""
    m = build_matrix(session, course, student_ids=[actor.id])
    return m.facts, (m.rows[0] if m.rows else None)


def children_standing(
    session: Session, actor: User, course: Course
) -> tuple[list[LessonFact], list[StudentRow]]:
    """A parent's enrolled children's rows in this course."""
    if actor.role != Role.parent:
        raise Forbidden()
    children = select(ParentLink.child_id).where(ParentLink.parent_id == actor.id)
    ids = list(session.scalars(children))
    m = build_matrix(session, course, student_ids=ids)
    return m.facts, m.rows


def next_lesson(facts: Sequence[LessonFact], row: StudentRow | None, now: datetime) -> LessonFact | None:
    """The lesson a student should do next: a live one open now, else the first not done."""
    cells = row.cells if row else {}
    for f in facts:
        if f.kind == LessonKind.live and f.starts_at and not cells.get(f.id, EMPTY).done:
            start = f.starts_at if f.starts_at.tzinfo else f.starts_at.replace(tzinfo=now.tzinfo)
            if start <= now and f.needed_s and (now - start).total_seconds() <= f.needed_s:
                return f

    def doable(f: LessonFact) -> bool:
        if cells.get(f.id, EMPTY).done:
            return False
        if f.kind == LessonKind.recorded:
            return f.held
        start = f.starts_at
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=now.tzinfo)
        return not (f.held and start is not None and start < now)  # a live lesson already held is gone

    # Required lessons first, in order; an optional one only when nothing required is left.
    for wanted in (True, False):
        for f in facts:
            if f.required == wanted and doable(f):
                return f
    return None


# ---------------------------------------------------------------------------------------------------
# The school's confirmation.


def _own_school(session: Session, actor: User, course: Course, action: str) -> int:
    """The school whose students the actor confirms: their own, when they are its admin for this course."""
    rels = relations(session, actor, course)
    if actor.role != Role.school_admin or not rels & {Rel.school, Rel.target_school}:
        if rels:
            raise Forbidden(N_("이수 확인은 학생이 속한 학교의 관리자가 합니다."))
        raise NotFound()
    require_action(session, actor, course, action)
    return actor.org_id


def schools_to_confirm(session: Session, course: Course) -> list[int]:
    """The schools of the course's enrolled students (each confirms its own)."""
    stmt = (
        select(User.org_id)
        .join(Enrolment, Enrolment.student_id == User.id)
        .where(Enrolment.course_id == course.id)
        .distinct()
    )
    return sorted(session.scalars(stmt))


def active_confirmation(session: Session, course: Course, school_id: int) -> CompletionConfirmation | None:
    """The standing confirmation of a school for a course, if any."""
    return session.scalar(
        select(CompletionConfirmation).where(
            CompletionConfirmation.course_id == course.id,
            CompletionConfirmation.school_id == school_id,
            CompletionConfirmation.revoked_at.is_(None),
        )
    )


def confirmations(
    session: Session, course: Course, school_id: int | None = None
) -> list[CompletionConfirmation]:
    """Every confirmation of the course (revoked ones too), newest first."""
    stmt = select(CompletionConfirmation).where(CompletionConfirmation.course_id == course.id)
    if school_id is not None:
        stmt = stmt.where(CompletionConfirmation.school_id == school_id)
    return list(session.scalars(stmt.order_by(CompletionConfirmation.id.desc())))


@dataclass
class Preview:
    """What the school sees before confirming: the table, the warnings and what will be locked."""

    matrix: Matrix
    school: Organisation
    standing: CompletionConfirmation | None
    history: list[CompletionConfirmation]
    may_confirm: bool


def preview(session: Session, actor: User, course: Course) -> Preview:
    """The confirmation page of the actor's school."""
    school_id = _own_school(session, actor, course, "view_results")
    m = build_matrix(session, course, school_id=school_id)
    standing = active_confirmation(session, course, school_id)
    may_confirm = standing is None and course.status == CourseStatus.completed and bool(m.rows)
    school = session.get(Organisation, school_id)
    assert school is not None
    return Preview(m, school, standing, confirmations(session, course, school_id), may_confirm)


def confirm(
    session: Session, actor: User, course: Course, *, expected: int | None = None
) -> CompletionConfirmation:
    """Confirm completion for the actor's school's students: writes the locked records.

    ``expected``: the number of students the person saw in the table; if it changed since, nothing is
    confirmed and they are asked to look again.
    """
    from courses import workflow

    school_id = _own_school(session, actor, course, "confirm")
    if active_confirmation(session, course, school_id) is not None:
        raise InvalidTransition(N_("이미 이수 확인했습니다. 바꾸려면 먼저 이수 확인을 취소하세요."))
    workflow.check_transition(course, CourseStatus.confirmed)
    m = build_matrix(session, course, school_id=school_id)
    if not m.rows:
        raise InvalidTransition(N_("이 학교에는 이수 확인할 수강생이 없습니다."))
    if expected is not None and expected != len(m.rows):
        raise InvalidTransition(N_("확인하는 동안 수강생이 바뀌었습니다. 표를 다시 보고 확인하세요."))
    year = school_year_of(course.end_date)
    conf = CompletionConfirmation(
        course_id=course.id,
        school_id=school_id,
        confirmed_by_id=actor.id,
        confirmed_at=utcnow(),
        rules={
            "watch_pct": course.watch_threshold_pct,
            "attend_pct": course.completion_threshold_pct,
            "hours": m.possible_hours,
            "lessons": [
                {
                    "id": f.id,
                    "number": f.number,
                    "title": f.title,
                    "kind": f.kind.value,
                    "required": f.required,
                    "held": f.held,
                    "credit_hours": f.credit_hours,
                }
                for f in m.facts
            ],
        },
        students=len(m.rows),
        completed=m.completed,
        hours_granted=m.hours,
    )
    try:
        with session.begin_nested():
            session.add(conf)
            session.flush()
    except IntegrityError:
        raise InvalidTransition(N_("이미 이수 확인했습니다. 바꾸려면 먼저 이수 확인을 취소하세요.")) from None
    session.add_all(
        CompletionRecord(
            confirmation_id=conf.id,
            course_id=course.id,
            school_id=school_id,
            student_id=r.user_id,
            class_id=r.class_id,
            class_label=r.class_label,
            theme_id=course.theme_id,
            school_year=year,
            completed=r.outcome.completed,
            lessons_done=r.outcome.done,
            lessons_required=r.outcome.required,
            hours=r.outcome.hours,
            detail={str(lid): c.pct for lid, c in r.cells.items()},
        )
        for r in m.rows
    )
    workflow.record_event(
        session,
        course,
        actor,
        EventKind.completion,
        None,
        "confirmed",
        f"{m.completed}/{len(m.rows)} · {m.hours}",
    )
    if all(active_confirmation(session, course, s) is not None for s in schools_to_confirm(session, course)):
        workflow.mark_confirmed(session, actor, course)
    notify_many(
        session,
        with_parents(session, [r.user_id for r in m.rows]),
        N_("이수 확인"),
        course.title,
        f"/courses/{course.id}",
        category=NoticeCategory.completion,
    )
    return conf


def revoke(session: Session, actor: User, course: Course, reason: str | None) -> CompletionConfirmation:
    """Un-confirm the actor's school's confirmation: needs a reason; the records stay as history."""
    from courses import workflow

    school_id = _own_school(session, actor, course, "unconfirm")
    e = Errors()
    why = text.clean(reason or "")
    if len(why) < 5 or len(why) > 500:
        e.add("reason", N_("취소 사유를 5~500자로 적어 주세요."))
    e.raise_if_any()
    conf = active_confirmation(session, course, school_id)
    if conf is None:
        raise InvalidTransition(N_("취소할 이수 확인이 없습니다."))
    if course.status not in (CourseStatus.completed, CourseStatus.confirmed):
        raise InvalidTransition(N_("강사료 지급이 끝난 강좌는 이수 확인을 취소할 수 없습니다."))
    conf.revoked_at, conf.revoked_by_id, conf.revoke_reason = utcnow(), actor.id, why
    for rec in session.scalars(select(CompletionRecord).where(CompletionRecord.confirmation_id == conf.id)):
        rec.revoked = True
    workflow.record_event(session, course, actor, EventKind.completion, "confirmed", "revoked", why)
    if course.status == CourseStatus.confirmed:
        workflow.reopen_confirmation(session, actor, course, why)
    return conf


# ---------------------------------------------------------------------------------------------------
# Completion rules per course (set by the requester within the office's limits).


def update_rules(
    session: Session,
    actor: User,
    course: Course,
    *,
    watch_pct: int | None,
    attend_pct: int | None,
    lessons: dict[int, tuple[bool, int | None]],
    limits: tuple[int, int] = (MIN_PCT, MAX_PCT),
) -> None:
    """Set the thresholds and, per lesson id, (required, credit hours). Field errors name each input."""
    require_action(session, actor, course, "set_completion_rules")
    if course.status not in (CourseStatus.submitted, CourseStatus.approved, CourseStatus.running):
        raise InvalidTransition(N_("운영이 끝난 강좌의 이수 기준은 바꿀 수 없습니다."))
    lo, hi = limits
    e = Errors()
    for name, value in (("watch_pct", watch_pct), ("attend_pct", attend_pct)):
        if value is None or not lo <= value <= hi:
            e.add(name, N_("%(lo)d~%(hi)d 사이의 값을 넣어 주세요."), lo=lo, hi=hi)
    own = {lesson.id: lesson for lesson in course.lessons}
    for lid, (_req, hours) in lessons.items():
        if lid not in own:
            e.add(f"lesson-{lid}", N_("이 강좌의 차시가 아닙니다."))
        elif hours is None or not 0 <= hours <= MAX_LESSON_HOURS:
            e.add(f"hours-{lid}", N_("차시 수는 0~%(max)d 사이여야 합니다."), max=MAX_LESSON_HOURS)
    if lessons and not any(req for req, _ in lessons.values()):
        e.add("lessons", N_("이수에 필요한 차시를 하나 이상 골라 주세요."))
    e.raise_if_any()
    course.watch_threshold_pct, course.completion_threshold_pct = watch_pct, attend_pct  # type: ignore[assignment]
    for lid, (req, hours) in lessons.items():
        own[lid].required, own[lid].credit_hours = req, hours  # type: ignore[assignment]
    from courses import workflow

    detail = f"{watch_pct}% / {attend_pct}% · {sum(h or 0 for r, h in lessons.values() if r)}"
    workflow.record_event(session, course, actor, EventKind.completion, None, "rules", detail)


# ---------------------------------------------------------------------------------------------------
# Transcripts: a student's confirmed credit hours per theme per school year.


def may_read_student(session: Session, actor: User, student: User) -> bool:
    """Whether the actor may read this student's records (self, parent, homeroom teacher, own school/office)."""
    if student.role != Role.student:
        return False
    if actor.id == student.id:
        return True
    if actor.role == Role.parent:
        return (
            session.scalar(
                select(ParentLink.id).where(
                    ParentLink.parent_id == actor.id, ParentLink.child_id == student.id
                )
            )
            is not None
        )
    if actor.role == Role.school_admin:
        return actor.org_id == student.org_id
    if actor.role == Role.office_admin:
        return actor.office_id == student.office_id
    if actor.role == Role.teacher:
        taught = select(ClassMembership.class_id).where(
            ClassMembership.user_id == actor.id, ClassMembership.role == MemberRole.teacher
        )
        return (
            session.scalar(
                select(ClassMembership.id).where(
                    ClassMembership.user_id == student.id, ClassMembership.class_id.in_(taught)
                )
            )
            is not None
        )
    return False


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One confirmed course on a student's record."""

    school_year: int
    theme: str
    course_id: int
    course_title: str
    period: str
    completed: bool
    hours: int
    lessons_done: int
    lessons_required: int
    confirmed_at: datetime
    school: str


@dataclass
class Transcript:
    """A student's record: the lines and the hours per school year and theme."""

    student: User
    class_label: str
    lines: list[TranscriptLine]

    def totals(self) -> list[tuple[int, str, int, int]]:
        """(school year, theme, courses completed, hours), sorted."""
        acc: dict[tuple[int, str], list[int]] = {}
        for line in self.lines:
            t = acc.setdefault((line.school_year, line.theme), [0, 0])
            t[0] += int(line.completed)
            t[1] += line.hours
        return [(y, th, n, h) for (y, th), (n, h) in sorted(acc.items())]

    @property
    def hours(self) -> int:
        """All credit hours on the record."""
        return sum(line.hours for line in self.lines)


def transcript(
    session: Session, actor: User, student_id: int, *, school_year: int | None = None
) -> Transcript:
    """The student's confirmed courses (revoked confirmations are left out); NotFound outside scope."""
    student = session.get(User, student_id)
    if student is None or not may_read_student(session, actor, student):
        raise NotFound()
    stmt = (
        select(
            CompletionRecord,
            Course.title,
            Course.start_date,
            Course.end_date,
            Theme.name,
            CompletionConfirmation.confirmed_at,
            Organisation.name,
        )
        .join(Course, Course.id == CompletionRecord.course_id)
        .join(Theme, Theme.id == CompletionRecord.theme_id)
        .join(CompletionConfirmation, CompletionConfirmation.id == CompletionRecord.confirmation_id)
        .join(Organisation, Organisation.id == CompletionRecord.school_id)
        .where(CompletionRecord.student_id == student.id, CompletionRecord.revoked.is_(False))
        .order_by(CompletionRecord.school_year.desc(), Course.end_date, Course.id)
    )
    if school_year is not None:
        stmt = stmt.where(CompletionRecord.school_year == school_year)
    lines = [
        TranscriptLine(
            rec.school_year,
            theme,
            rec.course_id,
            title,
            f"{start:%Y-%m-%d} ~ {end:%Y-%m-%d}",
            rec.completed,
            rec.hours,
            rec.lessons_done,
            rec.lessons_required,
            at,
            school,
        )
        for rec, title, start, end, theme, at, school in session.execute(stmt)
    ]
    label = session.execute(
        select(SchoolClass.grade, SchoolClass.name)
        .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
        .where(ClassMembership.user_id == student.id, ClassMembership.role == MemberRole.student)
        .order_by(SchoolClass.school_year.desc())
    ).first()
    return Transcript(student, class_label(label[0], label[1]) if label else "", lines)


def confirmed_records(
    session: Session, course: Course, student_ids: Sequence[int]
) -> dict[int, CompletionRecord]:
    """The standing confirmed record of each of these students in this course."""
    if not student_ids:
        return {}
    stmt = select(CompletionRecord).where(
        CompletionRecord.course_id == course.id,
        CompletionRecord.student_id.in_(student_ids),
        CompletionRecord.revoked.is_(False),
    )
    return {r.student_id: r for r in session.scalars(stmt)}


def record_summary(session: Session, student_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed credit hours per student (all years), for lists."""
    if not student_ids:
        return {}
    stmt = (
        select(CompletionRecord.student_id, func.sum(CompletionRecord.hours))
        .where(CompletionRecord.student_id.in_(student_ids), CompletionRecord.revoked.is_(False))
        .group_by(CompletionRecord.student_id)
    )
    return {uid: int(h or 0) for uid, h in session.execute(stmt)}


__all__ = [
    "Cell",
    "LessonFact",
    "Matrix",
    "Outcome",
    "Preview",
    "StudentRow",
    "Transcript",
    "build_matrix",
    "confirm",
    "course_matrix",
    "evaluate",
    "lesson_facts",
    "may_read_student",
    "preview",
    "revoke",
    "school_year_of",
    "transcript",
    "update_rules",
]
