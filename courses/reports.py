"""Reports a person reads as a table, sees as a chart, or exports (CSV / XLSX through courses.exports)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, distinct, func, select
from sqlalchemy.orm import Session

from courses.errors import N_
from courses.exports import Report
from courses.models import (
    ClassMembership,
    Course,
    Enrolment,
    MemberRole,
    Organisation,
    OrgKind,
    Role,
    SchoolClass,
    User,
)
from courses.policy import require


def course_context(course: Course, school_name: str | None = None) -> list[tuple[str, object]]:
    """What an export about one course names in its title rows: the course, the school, the period."""
    out: list[tuple[str, object]] = [(N_("강좌"), course.title)]
    if school_name:
        out.append((N_("학교"), school_name))
    elif course.school is not None:
        out.append((N_("학교"), course.school.name))
    else:
        out.append((N_("교육청"), course.office.name))
    out.append((N_("기간"), f"{course.start_date:%Y-%m-%d} ~ {course.end_date:%Y-%m-%d}"))
    return out


def enrolment_report(session: Session, actor: User) -> Report:
    """Office admins: per school; school admins: per grade and class — courses, enrolments, students reached."""
    require(actor.role in (Role.office_admin, Role.school_admin))
    stmt: Select[*tuple[Any, ...]]
    if actor.role == Role.office_admin:
        stmt = (
            select(
                Organisation.name,
                func.count(distinct(Enrolment.course_id)),
                func.count(Enrolment.id),
                func.count(distinct(Enrolment.student_id)),
            )
            .select_from(Organisation)
            .join(User, and_(User.org_id == Organisation.id, User.role == Role.student), isouter=True)
            .join(Enrolment, Enrolment.student_id == User.id, isouter=True)
            .where(Organisation.kind == OrgKind.school, Organisation.office_id == actor.office_id)
            .group_by(Organisation.id, Organisation.name)
            .order_by(Organisation.name)
        )
        columns = [N_("학교"), N_("강좌 수"), N_("수강 등록 수"), N_("수강 학생 수")]
        title = N_("학교별 수강 현황")
    else:
        stmt = (
            select(
                SchoolClass.grade,
                SchoolClass.name,
                func.count(distinct(Enrolment.course_id)),
                func.count(Enrolment.id),
                func.count(distinct(Enrolment.student_id)),
            )
            .select_from(SchoolClass)
            .join(
                ClassMembership,
                and_(ClassMembership.class_id == SchoolClass.id, ClassMembership.role == MemberRole.student),
                isouter=True,
            )
            .join(Enrolment, Enrolment.student_id == ClassMembership.user_id, isouter=True)
            .where(SchoolClass.school_id == actor.org_id)
            .group_by(SchoolClass.id, SchoolClass.grade, SchoolClass.name)
            .order_by(SchoolClass.grade, SchoolClass.name)
        )
        columns = [N_("학년"), N_("학급"), N_("강좌 수"), N_("수강 등록 수"), N_("수강 학생 수")]
        title = N_("학급별 수강 현황")
    org = session.get(Organisation, actor.office_id if actor.role == Role.office_admin else actor.org_id)
    return Report(
        title=title,
        columns=columns,
        rows=[list(r) for r in session.execute(stmt)],
        context=[(N_("교육청") if actor.role == Role.office_admin else N_("학교"), org.name if org else "")],
    )
