"""What each role sees first on their home page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, joinedload

from courses.models import (
    ClassMembership,
    CompletionConfirmation,
    Course,
    CourseStatus,
    Enrolment,
    InstructorProfile,
    MemberRole,
    ParentLink,
    Role,
    SchoolClass,
    User,
)
from courses.policy import action_clause, course_filter

LIST_LIMIT = 20


def _courses(session: Session, *where: Any, limit: int = LIST_LIMIT) -> list[Course]:
    stmt = (
        select(Course)
        .options(joinedload(Course.theme))
        .where(*where)
        .order_by(Course.updated_at.desc(), Course.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def visible_courses(
    session: Session, actor: User, *, status: CourseStatus | None = None, limit: int = 100, offset: int = 0
) -> list[Course]:
    """Courses the actor may see, newest first."""
    where = [course_filter(actor)]
    if status is not None:
        where.append(Course.status == status)
    stmt = (
        select(Course)
        .options(joinedload(Course.theme))
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
    """The course the student was last in first ("continue"), then all their courses."""
    rows = session.execute(
        select(Course, Enrolment.last_accessed_at)
        .join(Enrolment, Enrolment.course_id == Course.id)
        .options(joinedload(Course.theme))
        .where(Enrolment.student_id == actor.id)
        .order_by(Enrolment.last_accessed_at.desc().nulls_last(), Course.start_date)
        .limit(50)
    ).all()
    last = next((c for c, at in rows if at is not None), None)
    return {"continue_course": last, "courses": [c for c, _ in rows]}


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
    return {
        "my_requests": _courses(session, Course.requester_id == actor.id),
        "class_courses": _courses(session, course_filter(actor), Course.requester_id != actor.id),
        "classes": [(c, n) for c, n in classes],
    }


def school_admin_home(session: Session, actor: User) -> dict[str, Any]:
    """What awaits approval and what runs in the school."""
    return {
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
    pool = session.scalar(select(func.count()).where(InstructorProfile.office_id == actor.office_id)) or 0
    return {
        "pending": pending_approvals(session, actor),
        "recent": _courses(session, Course.office_id == actor.office_id),
        "status_counts": counts,
        "instructor_count": pool,
    }


def instructor_home(session: Session, actor: User) -> dict[str, Any]:
    """Courses the instructor teaches."""
    return {"courses": _courses(session, course_filter(actor))}


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
    return {"children": out}


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
