"""Completion dashboards: per office, school, grade, class and course — computed in SQL, one query a view.

Every enrolment (a student in a course) falls in one of: *completed* (a standing confirmed record says so),
*not completed* (confirmed, but not completed), *behind* (the course still runs or awaits confirmation
and a required lesson already held is not done), *on track* (the rest). Hours credited are the confirmed
records' hours. The same rules as ``courses.completion`` decide a lesson done (watched share of the video
against the course's watch threshold, present share of the scheduled time against its attendance
threshold); they are written here once more as SQL because the office's roll-up covers every student.
``tests/unit/test_dashboards.py`` checks both agree on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from courses.errors import N_, Forbidden
from courses.exports import Report
from courses.labels import class_label, theme_name
from courses.models import (
    Attendance,
    ClassMembership,
    CompletionRecord,
    Course,
    CourseStatus,
    Enrolment,
    Lesson,
    LessonKind,
    LiveSession,
    MemberRole,
    Organisation,
    OrgKind,
    Role,
    SchoolClass,
    Theme,
    User,
    Video,
    VideoState,
    WatchProgress,
)
from courses.policy import taught_class_ids

RUNNING = (CourseStatus.approved, CourseStatus.running, CourseStatus.completed)


def _seconds(session: Session, start: Any, end: Any) -> Any:
    """end − start in seconds, in the session's SQL dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def held_required(session: Session) -> Any:
    """Per course: how many required lessons were held (a video published, a live session started)."""
    held = or_(
        and_(Lesson.kind == LessonKind.recorded, Video.state == VideoState.ready),
        and_(Lesson.kind == LessonKind.live, LiveSession.started_at.is_not(None)),
    )
    return (
        select(Lesson.course_id.label("course_id"), func.count().label("n"))
        .select_from(Lesson)
        .outerjoin(Video, Video.lesson_id == Lesson.id)
        .outerjoin(LiveSession, LiveSession.lesson_id == Lesson.id)
        .where(Lesson.required, held)
        .group_by(Lesson.course_id)
    )


def done_required(session: Session, course_ids: Any = None) -> Any:
    """Per (course, student): how many required lessons the student has done."""
    watched = (
        select(Lesson.course_id.label("course_id"), WatchProgress.user_id.label("user_id"))
        .select_from(WatchProgress)
        .join(Lesson, Lesson.id == WatchProgress.lesson_id)
        .join(Video, Video.lesson_id == Lesson.id)
        .join(Course, Course.id == Lesson.course_id)
        .where(
            Lesson.required,
            Video.state == VideoState.ready,
            Video.duration_s > 0,
            WatchProgress.watched_s * 100 >= Video.duration_s * Course.watch_threshold_pct,
        )
    )
    attended = (
        select(LiveSession.course_id.label("course_id"), Attendance.user_id.label("user_id"))
        .select_from(Attendance)
        .join(LiveSession, LiveSession.id == Attendance.live_session_id)
        .join(Lesson, Lesson.id == LiveSession.lesson_id)
        .join(Course, Course.id == LiveSession.course_id)
        .where(
            Lesson.required,
            LiveSession.started_at.is_not(None),
            Attendance.present_seconds * 100
            >= _seconds(session, LiveSession.starts_at, LiveSession.ends_at)
            * Course.completion_threshold_pct,
        )
    )
    if course_ids is not None:
        watched = watched.where(Lesson.course_id.in_(course_ids))
        attended = attended.where(LiveSession.course_id.in_(course_ids))
    both = union_all(watched, attended).subquery()
    return select(both.c.course_id, both.c.user_id, func.count().label("n")).group_by(
        both.c.course_id, both.c.user_id
    )


@dataclass(frozen=True)
class Filters:
    """What the dashboard is narrowed to (all optional)."""

    school_id: int | None = None
    grade: int | None = None
    class_id: int | None = None
    course_id: int | None = None
    theme_id: int | None = None
    school_year: int | None = None


@dataclass
class Dashboard:
    """Groups with their figures, the level they are grouped by, and the progress distribution."""

    level: str  # school | class | course
    columns: list[str]
    rows: list[list[object]]
    totals: dict[str, int]
    distribution: list[int]  # enrolments by share of held required lessons done: 0, <50, <100, 100 %
    behind: list[tuple[str, str, str, str, int, int]]  # (school, class, student, course, done, held)


def _scope(actor: User, f: Filters) -> tuple[ColumnElement[bool], str]:
    """The students the actor may count, and the level groups are formed at."""
    if actor.role == Role.office_admin:
        where: ColumnElement[bool] = User.office_id == actor.office_id
        level = "school" if f.school_id is None else "class"
        if f.school_id is not None:
            where = and_(where, User.org_id == f.school_id)
    elif actor.role == Role.school_admin:
        where, level = User.org_id == actor.org_id, "class"
    elif actor.role == Role.teacher:
        where, level = and_(User.org_id == actor.org_id, SchoolClass.id.in_(taught_class_ids(actor))), "class"
    else:
        raise Forbidden()
    if f.grade is not None:
        where = and_(where, SchoolClass.grade == f.grade)
    if f.class_id is not None:
        where = and_(where, SchoolClass.id == f.class_id)
    if f.course_id is not None:
        where = and_(where, Enrolment.course_id == f.course_id)
    if f.theme_id is not None:
        where = and_(where, Course.theme_id == f.theme_id)
    if f.school_year is not None:
        where = and_(where, SchoolClass.school_year == f.school_year)
    return where, level


def completion_dashboard(session: Session, actor: User, f: Filters | None = None) -> Dashboard:
    """The dashboard the actor may see: an office by school (or one school by class), a school by class.

    One row per enrolment is computed once (a materialised CTE: the planner would otherwise guess the
    outer joins' selectivity wrong and re-aggregate progress per row), then grouped three ways.
    """
    f = f or Filters()
    where, level = _scope(actor, f)
    held = held_required(session).subquery()
    done = done_required(session).subquery()
    rec = (
        select(
            CompletionRecord.course_id,
            CompletionRecord.student_id,
            CompletionRecord.completed,
            CompletionRecord.hours,
        )
        .where(CompletionRecord.revoked.is_(False))
        .subquery()
    )
    per = (
        select(
            Enrolment.id.label("enrolment_id"),
            User.id.label("user_id"),
            User.name.label("user_name"),
            Organisation.id.label("school_id"),
            Organisation.name.label("school"),
            SchoolClass.id.label("class_id"),
            SchoolClass.grade.label("grade"),
            SchoolClass.name.label("class_name"),
            ClassMembership.number.label("number"),
            Course.title.label("course"),
            Course.status.in_(RUNNING).label("running"),
            func.coalesce(held.c.n, 0).label("held"),
            func.coalesce(done.c.n, 0).label("done"),
            rec.c.completed.label("completed"),
            func.coalesce(rec.c.hours, 0).label("hours"),
        )
        .select_from(Enrolment)
        .join(User, User.id == Enrolment.student_id)
        .join(Organisation, Organisation.id == User.org_id)
        .join(Course, Course.id == Enrolment.course_id)
        .outerjoin(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
        )
        .outerjoin(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .outerjoin(held, held.c.course_id == Course.id)
        .outerjoin(done, and_(done.c.course_id == Course.id, done.c.user_id == User.id))
        .outerjoin(rec, and_(rec.c.course_id == Course.id, rec.c.student_id == User.id))
        .where(where)
        .cte("per")
        .prefix_with("MATERIALIZED")
    )
    open_ = and_(per.c.running, per.c.completed.is_(None))
    is_behind = and_(open_, per.c.done < per.c.held)
    figures = [
        func.count(per.c.enrolment_id),
        func.count(func.distinct(per.c.user_id)),
        func.sum(case((per.c.completed.is_(True), 1), else_=0)),
        func.sum(case((per.c.completed.is_(False), 1), else_=0)),
        func.sum(case((is_behind, 1), else_=0)),
        func.sum(per.c.hours),
    ]
    if level == "school":
        keys: list[Any] = [per.c.school]
        stmt = select(per.c.school, *figures).group_by(per.c.school_id, per.c.school).order_by(per.c.school)
        label_cols = [N_("학교")]
    else:
        keys = [per.c.grade, per.c.class_name]
        stmt = (
            select(per.c.grade, per.c.class_name, *figures)
            .group_by(per.c.class_id, per.c.grade, per.c.class_name)
            .order_by(per.c.grade, per.c.class_name)
        )
        label_cols = [N_("학급")]
    rows: list[list[object]] = []
    totals = {"enrolments": 0, "students": 0, "completed": 0, "not_completed": 0, "behind": 0, "hours": 0}
    for r in session.execute(stmt):
        label = r[0] if level == "school" else (class_label(r[0], r[1]) if r[0] else "-")
        nums = [int(v or 0) for v in r[len(keys) :]]
        enrol, students, completed, not_completed, behind, hours = nums
        confirmed = completed + not_completed
        rate = round(100 * completed / confirmed, 1) if confirmed else None
        rows.append([label, students, enrol, completed, not_completed, rate, behind, hours])
        for k, v in zip(totals, nums, strict=True):
            totals[k] += v
    share = case(
        (per.c.held == 0, literal(-1)),
        (per.c.done >= per.c.held, literal(3)),
        (per.c.done * 2 >= per.c.held, literal(2)),
        (per.c.done > 0, literal(1)),
        else_=literal(0),
    )
    dist = [0, 0, 0, 0]
    bucket = share.label("bucket")
    for b, count in session.execute(select(bucket, func.count()).where(open_).group_by(bucket)):
        if b is not None and b >= 0:
            dist[int(b)] += int(count)
    behind_stmt = (
        select(
            per.c.school, per.c.grade, per.c.class_name, per.c.user_name, per.c.course, per.c.done, per.c.held
        )
        .where(is_behind)
        .order_by(per.c.school, per.c.grade, per.c.class_name, per.c.number, per.c.user_name)
        .limit(200)
    )
    behind_rows = [
        (school, class_label(g, c) if g else "", name, title, int(d), int(h))
        for school, g, c, name, title, d, h in session.execute(behind_stmt)
    ]
    columns = [
        *label_cols,
        N_("학생 수"),
        N_("수강 등록"),
        N_("이수"),
        N_("미이수"),
        N_("이수율(%%)"),
        N_("뒤처짐"),
        N_("인정 시수"),
    ]
    return Dashboard(level, columns, rows, totals, dist, behind_rows)


def as_report(d: Dashboard, scope_name: str) -> Report:
    """The dashboard's table for the one export helper."""
    return Report(
        title=N_("이수 현황 통계"),
        columns=d.columns,
        rows=[[("" if v is None else v) for v in row] for row in d.rows],
        context=[(N_("범위"), scope_name)],
    )


def filter_options(session: Session, actor: User) -> dict[str, Any]:
    """What the filters offer: schools (office), classes, themes, courses, school years."""
    out: dict[str, Any] = {
        "themes": [
            (tid, theme_name(name, name_en))
            for tid, name, name_en in session.execute(
                select(Theme.id, Theme.name, Theme.name_en).order_by(Theme.position)
            )
        ]
    }
    if actor.role == Role.office_admin:
        out["schools"] = list(
            session.execute(
                select(Organisation.id, Organisation.name)
                .where(Organisation.kind == OrgKind.school, Organisation.office_id == actor.office_id)
                .order_by(Organisation.name)
            )
        )
    school_ids = (
        select(Organisation.id).where(Organisation.office_id == actor.office_id)
        if actor.role == Role.office_admin
        else select(literal(actor.org_id))
    )
    out["years"] = sorted(
        session.scalars(
            select(SchoolClass.school_year).where(SchoolClass.school_id.in_(school_ids)).distinct()
        ),
        reverse=True,
    )
    return out


__all__ = [
    "Dashboard",
    "Filters",
    "as_report",
    "completion_dashboard",
    "done_required",
    "filter_options",
    "held_required",
]
