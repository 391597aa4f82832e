"""Who may see and do what, scoped office → school → class. Outside scope is NotFound, never data."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from courses.errors import Forbidden, NotFound
from courses.models import (
    ClassMembership,
    Course,
    CourseLevel,
    CourseTarget,
    Enrolment,
    MemberRole,
    Organisation,
    OrgKind,
    ParentLink,
    Role,
    SchoolClass,
    User,
)

ADMINS = (Role.office_admin, Role.school_admin)


def taught_class_ids(actor: User) -> Select[tuple[int]]:
    """Classes the actor teaches (as a subquery)."""
    return select(ClassMembership.class_id).where(
        ClassMembership.user_id == actor.id, ClassMembership.role == MemberRole.teacher
    )


def school_scope(actor: User) -> ColumnElement[bool]:
    """A filter on Organisation: the schools whose data the actor may see at all."""
    if actor.role == Role.office_admin:
        return and_(Organisation.kind == OrgKind.school, Organisation.office_id == actor.office_id)
    if actor.role in (Role.school_admin, Role.teacher, Role.student):
        return Organisation.id == actor.org_id
    if actor.role == Role.parent:
        child_schools = select(User.org_id).join(ParentLink, ParentLink.child_id == User.id).where(
            ParentLink.parent_id == actor.id
        )
        return Organisation.id.in_(child_schools)
    return false()


def can_see_school(session: Session, actor: User, school_id: int) -> bool:
    """Whether a school is inside the actor's scope."""
    return session.scalar(select(Organisation.id).where(Organisation.id == school_id, school_scope(actor))) is not None


def course_filter(actor: User) -> ColumnElement[bool]:
    """A filter on Course: the courses the actor may see."""
    if actor.role == Role.office_admin:
        return Course.office_id == actor.office_id
    targets_school = exists().where(CourseTarget.course_id == Course.id, CourseTarget.school_id == actor.org_id)
    if actor.role == Role.school_admin:
        return or_(Course.school_id == actor.org_id, targets_school)
    if actor.role == Role.teacher:
        taught = taught_class_ids(actor)
        targets_taught = exists().where(
            CourseTarget.course_id == Course.id,
            CourseTarget.school_id == actor.org_id,
            or_(
                CourseTarget.class_id.in_(taught),
                and_(
                    CourseTarget.class_id.is_(None),
                    or_(
                        CourseTarget.grade.is_(None),
                        CourseTarget.grade.in_(select(SchoolClass.grade).where(SchoolClass.id.in_(taught))),
                    ),
                ),
            ),
        )
        return or_(Course.requester_id == actor.id, Course.instructor_id == actor.id, targets_taught)
    if actor.role == Role.instructor:
        return or_(Course.instructor_id == actor.id, Course.requester_id == actor.id)
    if actor.role == Role.student:
        return exists().where(Enrolment.course_id == Course.id, Enrolment.student_id == actor.id)
    if actor.role == Role.parent:
        children = select(ParentLink.child_id).where(ParentLink.parent_id == actor.id)
        return exists().where(Enrolment.course_id == Course.id, Enrolment.student_id.in_(children))
    return false()


def get_course(session: Session, actor: User, course_id: int) -> Course:
    """The course if the actor may see it; NotFound otherwise (also when it does not exist)."""
    course = session.scalar(select(Course).where(Course.id == course_id, course_filter(actor)))
    if course is None:
        raise NotFound()
    return course


def is_course_staff(actor: User, course: Course) -> bool:
    """Requester or instructor of the course."""
    return actor.id in (course.requester_id, course.instructor_id)


def is_approver(actor: User, course: Course) -> bool:
    """The office approves office- and school-level requests; the school approves class-level ones."""
    if course.level == CourseLevel.class_:
        return actor.role == Role.school_admin and actor.org_id == course.school_id
    return actor.role == Role.office_admin and actor.office_id == course.office_id


def is_course_admin(actor: User, course: Course) -> bool:
    """Admin with authority over the course: its office's admin, or its school's admin."""
    if actor.role == Role.office_admin:
        return actor.office_id == course.office_id
    if actor.role == Role.school_admin:
        return course.school_id is not None and actor.org_id == course.school_id
    return False


def can_manage(actor: User, course: Course) -> bool:
    """May run the course: edit lessons, start and finish it, manage enrolment."""
    return is_course_staff(actor, course) or is_course_admin(actor, course) or (
        actor.role == Role.school_admin and course.level == CourseLevel.office
    )


def require(condition: bool) -> None:
    """Raise Forbidden unless condition holds."""
    if not condition:
        raise Forbidden()


def visible_students(actor: User) -> ColumnElement[bool]:
    """A filter on User: students the actor may enrol or look up."""
    base = User.role == Role.student
    if actor.role == Role.office_admin:
        return and_(base, User.office_id == actor.office_id)
    if actor.role == Role.school_admin:
        return and_(base, User.org_id == actor.org_id)
    if actor.role == Role.teacher:
        return and_(base, User.org_id == actor.org_id)
    return false()


__all__ = [
    "ADMINS", "can_manage", "can_see_school", "course_filter", "get_course", "is_approver",
    "is_course_admin", "is_course_staff", "require", "school_scope", "taught_class_ids",
    "visible_students",
]
