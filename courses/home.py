"""What each role sees first on their home page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from courses.db import utcnow
from courses.models import (
    ClassMembership,
    CompletionConfirmation,
    Course,
    CourseStatus,
    CourseTarget,
    Enrolment,
    InstructorProfile,
    Lesson,
    LessonKind,
    LiveSession,
    LiveStatus,
    MemberRole,
    ParentLink,
    Role,
    SchoolClass,
    User,
)
from courses.policy import Rel, action_clause, course_filter, relation_clause
from courses.text import contains_pattern

LIST_LIMIT = 20
SEOUL = ZoneInfo("Asia/Seoul")
RUNNING = (CourseStatus.approved, CourseStatus.running)


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """A scheduled lesson of the week: whether its live room is open now and whether the actor may join."""

    lesson: Lesson
    course: Course
    live_id: int | None
    open_now: bool
    today: bool
    may_join: bool


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=SEOUL)


def agenda(session: Session, actor: User, now: datetime, *, days: int = 7) -> list[AgendaItem]:
    """The actor's lessons from the start of today (Seoul) for `days` days, and any still on from before
    midnight, in order; live rooms open
    `opens_minutes_before` their start until their end."""
    local = now.astimezone(SEOUL)
    start = datetime.combine(local.date(), time(0), tzinfo=SEOUL)
    stmt = (
        select(Lesson, Course, LiveSession)
        .join(Course, Course.id == Lesson.course_id)
        .outerjoin(LiveSession, LiveSession.lesson_id == Lesson.id)
        .options(joinedload(Course.theme))
        .where(
            course_filter(actor),
            Course.status.in_(RUNNING),
            Lesson.starts_at.is_not(None),
            # From the start of today, and a lesson begun before midnight that is still on (a class at 23:50
            # is joined at 00:05 from the same home).
            Lesson.starts_at >= start - timedelta(days=1),
            or_(Lesson.starts_at >= start, Lesson.ends_at > now),
            Lesson.starts_at < start + timedelta(days=days),
        )
        .order_by(Lesson.starts_at, Course.id, Lesson.number)
        .limit(50)
    )
    out = []
    for lesson, course, live in session.execute(stmt):
        open_now = False
        if live is not None and live.status != LiveStatus.ended:
            opens = _aware(live.starts_at) - timedelta(minutes=live.opens_minutes_before)
            open_now = opens <= now <= _aware(live.ends_at)
        assert lesson.starts_at is not None  # the query asks for scheduled lessons only
        starts = _aware(lesson.starts_at).astimezone(SEOUL)
        out.append(
            AgendaItem(
                lesson,
                course,
                live.id if live is not None else None,
                open_now,
                starts.date() == local.date(),
                actor.role != Role.parent and live is not None,
            )
        )
    return out


def continue_learning(session: Session, actor: User, now: datetime) -> dict[str, Any] | None:
    """Where a student most likely wants to go now: a live lesson open now, else the recorded lesson they
    left unfinished most recently, else the next lesson of the course they were last in — never a course
    that is over."""
    from courses import completion

    for item in agenda(session, actor, now, days=1):
        if item.open_now and item.may_join:
            return {"kind": "live", "course": item.course, "lesson": item.lesson, "live_id": item.live_id}
    courses = session.execute(
        select(Course)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .where(Enrolment.student_id == actor.id, Course.status.in_(RUNNING))
        .order_by(Enrolment.last_accessed_at.desc().nulls_last(), Course.start_date)
        .limit(20)
    ).scalars()
    best: dict[str, Any] | None = None
    for course in courses:
        facts, row = completion.own_standing(session, actor, course)
        cells = row.cells if row else {}
        started = [
            f
            for f in facts
            if f.kind == LessonKind.recorded and f.held and f.id in cells and not cells[f.id].done
        ]
        if started:
            return {"kind": "recorded", "course": course, "lesson": started[0], "resume": True}
        nxt = completion.next_lesson(facts, row, now)
        if best is None and nxt is not None:
            best = {"kind": nxt.kind.value, "course": course, "lesson": nxt, "resume": False}
    return best


def _courses(session: Session, *where: Any, limit: int = LIST_LIMIT) -> list[Course]:
    stmt = (
        select(Course)
        .options(*LIST_LOADS)
        .where(*where)
        .order_by(Course.updated_at.desc(), Course.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


# What a course list shows besides the title: theme, requester, the school or class it is for.
LIST_LOADS = (
    joinedload(Course.theme),
    joinedload(Course.requester),
    joinedload(Course.school),
    joinedload(Course.school_class),
    selectinload(Course.targets).joinedload(CourseTarget.school),
)


def visible_courses(
    session: Session,
    actor: User,
    *,
    status: CourseStatus | None = None,
    school_id: int | None = None,
    theme_id: int | None = None,
    q: str = "",
    limit: int = 100,
    offset: int = 0,
) -> list[Course]:
    """Courses the actor may see, newest first; narrowed by status, school, theme and words of the title."""
    where = [course_filter(actor)]
    if status is not None:
        where.append(Course.status == status)
    if school_id is not None:
        # A course is a school's when it was requested there or that school is among its targets.
        where.append(
            or_(
                Course.school_id == school_id,
                exists().where(CourseTarget.course_id == Course.id, CourseTarget.school_id == school_id),
            )
        )
    if theme_id is not None:
        where.append(Course.theme_id == theme_id)
    if q:
        where.append(Course.title.ilike(contains_pattern(q), escape="\\"))
    stmt = (
        select(Course)
        .options(*LIST_LOADS)
        .where(*where)
        .order_by(Course.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def pending_approvals(session: Session, actor: User) -> list[Course]:
    """Requests waiting for this actor's decision."""
    return _courses(session, action_clause(actor, "approve"), limit=100)


def student_home(session: Session, actor: User) -> dict[str, Any]:
    """What to do now first (continue learning), this week's lessons, then all their courses."""
    rows = session.execute(
        select(Course, Enrolment.last_accessed_at)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .options(joinedload(Course.theme))
        .where(Enrolment.student_id == actor.id)
        .order_by(Enrolment.last_accessed_at.desc().nulls_last(), Course.start_date)
        .limit(50)
    ).all()
    now = utcnow()
    return {
        "continue": continue_learning(session, actor, now),
        "agenda": agenda(session, actor, now),
        "courses": [c for c, _ in rows],
    }


def teacher_home(session: Session, actor: User) -> dict[str, Any]:
    """The teacher's requests, the courses for their classes, and their classes."""
    classes = session.execute(
        select(SchoolClass, func.count(ClassMembership.id))
        .join(
            ClassMembership,
            and_(ClassMembership.class_id == SchoolClass.id, ClassMembership.role == MemberRole.student),
            isouter=True,
        )
        .where(
            SchoolClass.id.in_(
                select(ClassMembership.class_id).where(
                    ClassMembership.user_id == actor.id, ClassMembership.role == MemberRole.teacher
                )
            )
        )
        .group_by(SchoolClass.id)
        .order_by(SchoolClass.grade, SchoolClass.name)
    ).all()
    # The courses of their classes, whoever requested them (their own requests are listed there too).
    taught = relation_clause(actor, [Rel.target_teacher, Rel.instructor])
    return {
        "agenda": agenda(session, actor, utcnow()),
        "my_requests": _courses(session, Course.requester_id == actor.id),
        "class_courses": _courses(session, taught),
        "classes": [(c, n) for c, n in classes],
    }


def school_admin_home(session: Session, actor: User) -> dict[str, Any]:
    """What awaits approval and what runs in the school."""
    return {
        "agenda": agenda(session, actor, utcnow()),
        "pending": pending_approvals(session, actor),
        "running": _courses(
            session, course_filter(actor), Course.status.in_([CourseStatus.approved, CourseStatus.running])
        ),
        # Courses awaiting this school's confirmation (a shared course leaves once this school has confirmed).
        "to_confirm": _courses(
            session,
            action_clause(actor, "confirm"),
            ~exists().where(
                CompletionConfirmation.course_id == Course.id,
                CompletionConfirmation.school_id == actor.org_id,
                CompletionConfirmation.revoked_at.is_(None),
            ),
        ),
    }


def office_admin_home(session: Session, actor: User) -> dict[str, Any]:
    """All requests by status, what awaits approval, the instructor pool size."""
    counts = dict(
        session.execute(
            select(Course.status, func.count())
            .where(Course.office_id == actor.office_id)
            .group_by(Course.status)
        ).all()
    )
    pool = (
        session.scalar(
            select(func.count()).where(
                InstructorProfile.office_id == actor.office_id, InstructorProfile.active
            )
        )
        or 0
    )
    from courses.dashboards import filter_options

    return {
        "pending": pending_approvals(session, actor),
        "options": filter_options(session, actor),
        "recent": _courses(session, Course.office_id == actor.office_id),
        "status_counts": counts,
        "instructor_count": pool,
    }


def instructor_home(session: Session, actor: User) -> dict[str, Any]:
    """Courses the instructor teaches."""
    return {"agenda": agenda(session, actor, utcnow()), "courses": _courses(session, course_filter(actor))}


def parent_home(session: Session, actor: User) -> dict[str, Any]:
    """Each child with their courses."""
    children = list(
        session.scalars(
            select(User)
            .join(ParentLink, ParentLink.child_id == User.id)
            .where(ParentLink.parent_id == actor.id)
            .order_by(User.name)
        )
    )
    out = []
    for child in children:  # a parent has a handful of children at most
        out.append(
            (
                child,
                _courses(
                    session,
                    Course.id.in_(select(Enrolment.course_id).where(Enrolment.student_id == child.id)),
                ),
            )
        )
    return {"agenda": agenda(session, actor, utcnow()), "children": out}


HOMES = {
    Role.student: student_home,
    Role.teacher: teacher_home,
    Role.school_admin: school_admin_home,
    Role.office_admin: office_admin_home,
    Role.instructor: instructor_home,
    Role.parent: parent_home,
}


def home_for(session: Session, actor: User) -> dict[str, Any]:
    """The home-page data for the actor's role."""
    return HOMES[actor.role](session, actor)
