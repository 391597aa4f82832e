"""Enrolment: students registered by school / grade / class in one action, or one by one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, and_, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from courses.db import affected, utcnow
from courses.errors import N_, Errors, NotFound
from courses.labels import class_label, grade_label
from courses.models import (
    ClassMembership,
    Course,
    CourseLevel,
    CourseTarget,
    Enrolment,
    EventKind,
    MemberRole,
    NoticeCategory,
    Organisation,
    Role,
    SchoolClass,
    User,
)
from courses.policy import require_action, require_status, results_school
from courses.workflow import _record


def _actor_school_filter(actor: User):  # type: ignore[no-untyped-def]
    """Students an actor may enrol: their school's, or any in the office for office admins/staff."""
    if actor.role == Role.office_admin:
        return User.office_id == actor.office_id
    if actor.role in (Role.school_admin, Role.teacher):
        return User.org_id == actor.org_id
    return User.office_id == actor.office_id  # the course's instructor: targets still bound it


def _in_targets(course: Course):  # type: ignore[no-untyped-def]
    """A filter on (SchoolClass) rows: classes inside one of the course's targets."""
    return exists().where(
        CourseTarget.course_id == course.id,
        CourseTarget.school_id == SchoolClass.school_id,
        or_(CourseTarget.grade.is_(None), CourseTarget.grade == SchoolClass.grade),
        or_(CourseTarget.class_id.is_(None), CourseTarget.class_id == SchoolClass.id),
    )


def _check_open(session: Session, actor: User, course: Course) -> None:
    require_action(session, actor, course, "enrol")
    require_status(course, "enrol", N_("승인되었거나 운영 중인 강좌에만 수강생을 등록할 수 있습니다."))


def enrol_group(
    session: Session,
    actor: User,
    course: Course,
    *,
    school_id: int,
    grade: int | None = None,
    class_id: int | None = None,
) -> int:
    """Enrol every student of a school, one grade of it, or one class, in one statement; returns how many."""
    _check_open(session, actor, course)
    e = Errors()
    if grade is not None and not 1 <= grade <= 12:
        e.add("grade", N_("학년이 올바르지 않습니다."))
    e.raise_if_any()
    students = (
        select(
            literal(course.id),
            ClassMembership.user_id,
            literal(actor.id),
            literal(utcnow()),
        )
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .join(User, User.id == ClassMembership.user_id)
        .where(
            ClassMembership.role == MemberRole.student,
            SchoolClass.school_id == school_id,
            User.active,
            _actor_school_filter(actor),
            _in_targets(course),
            ~exists().where(
                Enrolment.course_id == course.id, Enrolment.student_id == ClassMembership.user_id
            ),
        )
        .distinct()
    )
    if grade is not None:
        students = students.where(SchoolClass.grade == grade)
    if class_id is not None:
        students = students.where(SchoolClass.id == class_id)
    # Count through RETURNING: psycopg's rowcount for INSERT … SELECT is not reliable here.
    result = session.execute(
        insert(cast(Table, Enrolment.__table__))
        .from_select(["course_id", "student_id", "enrolled_by_id", "enrolled_at"], students)
        .returning(Enrolment.__table__.c.student_id)
    )
    new_ids = [row[0] for row in result.all()]
    added = len(new_ids)
    if added == 0 and not _group_reachable(session, actor, course, school_id, grade, class_id):
        raise NotFound(N_("관할 범위나 강좌 대상 밖의 학교/학급입니다."))
    _record(
        session,
        course,
        actor,
        EventKind.enrolment,
        None,
        f"+{added}",
        group_name(session, school_id, grade, class_id),
    )
    _announce(session, course, new_ids)
    return added


def group_name(session: Session, school_id: int, grade: int | None, class_id: int | None) -> str:
    """A group as people say it: "이음초등학교 5학년 1반" (never raw ids)."""
    school = session.get(Organisation, school_id)
    name = school.name if school else ""
    if class_id is not None:
        cls = session.get(SchoolClass, class_id)
        return f"{name} {class_label(cls.grade, cls.name, stored=True)}" if cls else name
    return f"{name} {grade_label(grade, stored=True)}" if grade else name


@dataclass(frozen=True)
class Group:
    """A group the enrolment page offers to enrol in one action: a school, one grade of it, or one class."""

    school_id: int
    grade: int | None = None
    class_id: int | None = None
    class_label: str = ""

    @property
    def kind(self) -> str:
        return "class" if self.class_id is not None else "grade" if self.grade is not None else "school"


def enrolment_groups(session: Session, actor: User, course: Course) -> list[tuple[Organisation, list[Group]]]:
    """The groups that fit the course's level and targets, within the actor's reach, by school.

    Office level: the target schools (or the grade or class a target names); school level: the school when
    the whole of it is the target, its targeted grades and their classes; class level: that class.
    """
    if actor.role in (Role.school_admin, Role.teacher):
        reach = {actor.org_id}
    else:  # the office's admins and the course's instructor: every target school (all in the office)
        reach = {t.school_id for t in course.targets}
    targets = [t for t in course.targets if t.school_id in reach]
    if not targets:
        return []
    schools = {
        o.id: o
        for o in session.scalars(
            select(Organisation).where(Organisation.id.in_({t.school_id for t in targets}))
        )
    }
    classes = list(
        session.scalars(
            select(SchoolClass)
            .where(SchoolClass.school_id.in_(schools))
            .order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)
        )
    )
    by_school: dict[int, list[Group]] = {sid: [] for sid in schools}
    for t in targets:
        found = by_school[t.school_id]
        inside = [
            c
            for c in classes
            if c.school_id == t.school_id
            and (t.grade is None or c.grade == t.grade)
            and t.class_id in (None, c.id)
        ]
        if t.class_id is not None:
            found += [Group(t.school_id, c.grade, c.id, c.label) for c in inside]
        elif course.level == CourseLevel.office:
            found.append(Group(t.school_id, t.grade))
        elif course.level == CourseLevel.school:
            if t.grade is None:
                found.append(Group(t.school_id))
            found += [Group(t.school_id, g) for g in dict.fromkeys(c.grade for c in inside)]
            found += [Group(t.school_id, c.grade, c.id, c.label) for c in inside]
    order = {"school": 0, "grade": 1, "class": 2}
    position = {c.id: i for i, c in enumerate(classes)}
    out = []
    for sid, found in by_school.items():
        unique = sorted(
            dict.fromkeys(found),
            key=lambda g: (order[g.kind], g.grade or 0, position.get(g.class_id or 0, 0)),
        )
        if unique:
            out.append((schools[sid], unique))
    return sorted(out, key=lambda pair: pair[0].name)


def _announce(session: Session, course: Course, student_ids: list[int]) -> None:
    """Tell newly enrolled students (and their parents) where their course is."""
    from courses.notifications import notify_many, with_parents

    notify_many(
        session,
        with_parents(session, student_ids),
        N_("강좌에 등록되었습니다"),
        course.title,
        f"/courses/{course.id}",
        category=NoticeCategory.enrolment,
    )


def _group_reachable(
    session: Session, actor: User, course: Course, school_id: int, grade: int | None, class_id: int | None
) -> bool:
    stmt = select(SchoolClass.id).where(SchoolClass.school_id == school_id, _in_targets(course)).limit(1)
    if grade is not None:
        stmt = stmt.where(SchoolClass.grade == grade)
    if class_id is not None:
        stmt = stmt.where(SchoolClass.id == class_id)
    if actor.role in (Role.school_admin, Role.teacher) and school_id != actor.org_id:
        return False
    return session.scalar(stmt) is not None


def enrol_students(session: Session, actor: User, course: Course, student_ids: Iterable[int]) -> int:
    """Enrol individual students (each must be in scope and in the course's targets)."""
    _check_open(session, actor, course)
    ids = sorted(set(student_ids))
    if not ids:
        return 0
    eligible = set(
        session.scalars(
            select(User.id)
            .join(
                ClassMembership,
                and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
            )
            .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
            .where(
                User.id.in_(ids), User.role == Role.student, _actor_school_filter(actor), _in_targets(course)
            )
        )
    )
    missing = [i for i in ids if i not in eligible]
    if missing:
        raise NotFound(N_("등록할 수 없는 학생입니다: %(ids)s"), ids=", ".join(map(str, missing)))
    already = set(
        session.scalars(
            select(Enrolment.student_id).where(
                Enrolment.course_id == course.id, Enrolment.student_id.in_(ids)
            )
        )
    )
    new = [i for i in ids if i not in already]
    for sid in new:
        session.add(Enrolment(course_id=course.id, student_id=sid, enrolled_by_id=actor.id))
    if new:
        names = list(session.scalars(select(User.name).where(User.id.in_(new)).order_by(User.name)))
        shown = ", ".join(names[:5]) + (f" 외 {len(names) - 5}명" if len(names) > 5 else "")
        _record(session, course, actor, EventKind.enrolment, None, f"+{len(new)}", shown[:480])
        _announce(session, course, new)
    return len(new)


def unenrol(session: Session, actor: User, course: Course, student_id: int) -> None:
    """Remove one student from the course."""
    _check_open(session, actor, course)
    result = session.execute(
        delete(Enrolment).where(
            Enrolment.course_id == course.id,
            Enrolment.student_id == student_id,
            Enrolment.student_id.in_(select(User.id).where(_actor_school_filter(actor))),
        )
    )
    if not affected(result):
        raise NotFound(N_("수강생이 아닙니다."))
    name = session.scalar(select(User.name).where(User.id == student_id)) or ""
    _record(session, course, actor, EventKind.enrolment, None, "-1", name)


def enrolment_count(session: Session, course: Course) -> int:
    """How many students are enrolled."""
    return session.scalar(select(func.count()).where(Enrolment.course_id == course.id)) or 0


def list_enrolled(
    session: Session, actor: User, course: Course, *, limit: int = 500, offset: int = 0
) -> list[tuple]:  # type: ignore[type-arg]
    """Enrolled students the actor may see: (user, class label, number), by school, grade, class, number."""
    school_id = results_school(session, actor, course)
    stmt = (
        select(User, SchoolClass, ClassMembership.number)
        .join(Enrolment, Enrolment.student_id == User.id)
        .join(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.role == MemberRole.student),
        )
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .where(Enrolment.course_id == course.id)
        .order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.name, ClassMembership.number, User.id)
        .limit(limit)
        .offset(offset)
    )
    if school_id is not None:
        # A school sees its own students, even on an office-level course that spans many schools.
        stmt = stmt.where(User.org_id == school_id)
    return [tuple(row) for row in session.execute(stmt)]


def touch(session: Session, actor: User, course: Course) -> None:
    """Remember when a student last opened the course (for "continue" on their home page)."""
    if actor.role != Role.student:
        return
    # One UPDATE, no read first: this runs on every course page a student opens.
    session.execute(
        update(Enrolment)
        .where(Enrolment.course_id == course.id, Enrolment.student_id == actor.id)
        .values(last_accessed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
