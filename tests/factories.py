"""Factories for a small but realistic world: two offices, schools, classes, every role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from sqlalchemy.orm import Session

from courses.accounts import hash_password
from courses.catalog import seed_themes
from courses.models import (
    ClassMembership,
    InstructorProfile,
    MemberRole,
    Organisation,
    OrgKind,
    ParentLink,
    Role,
    SchoolClass,
    SchoolLevel,
    Theme,
    User,
)
from courses.workflow import CourseInput, TargetInput

PASSWORD = "correct horse battery"


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class World:
    """Handles to everything the tests need by name."""

    office: Organisation
    other_office: Organisation
    school: Organisation
    school_b: Organisation
    foreign_school: Organisation  # in the other office
    cls: SchoolClass  # school, grade 5, 1반
    cls2: SchoolClass  # school, grade 5, 2반
    cls_g6: SchoolClass  # school, grade 6, 1반
    cls_b: SchoolClass  # school_b, grade 5, 1반
    foreign_cls: SchoolClass
    users: dict[str, User] = field(default_factory=dict)
    themes: list[Theme] = field(default_factory=list)

    def __getitem__(self, key: str) -> User:
        return self.users[key]


def make_user(
    session: Session,
    username: str,
    role: Role,
    org: Organisation,
    office: Organisation,
    name: str | None = None,
) -> User:
    user = User(
        username=username,
        name=name or username,
        role=role,
        org_id=org.id,
        office_id=office.id,
        password_hash=password_hash(),
    )
    session.add(user)
    session.flush()
    return user


def make_class(
    session: Session,
    school: Organisation,
    grade: int,
    name: str,
    students: int,
    prefix: str,
    office: Organisation,
    teacher: User | None = None,
) -> SchoolClass:
    cls = SchoolClass(school_id=school.id, school_year=2026, grade=grade, name=name)
    session.add(cls)
    session.flush()
    if teacher is not None:
        session.add(ClassMembership(class_id=cls.id, user_id=teacher.id, role=MemberRole.teacher))
    for i in range(1, students + 1):
        s = make_user(session, f"{prefix}-s{i}", Role.student, school, office)
        session.add(ClassMembership(class_id=cls.id, user_id=s.id, role=MemberRole.student, number=i))
    session.flush()
    return cls


def build_world(session: Session, students: int = 5) -> World:
    """Two offices; office has schools A and B; A has grade 5 (two classes) and grade 6."""
    seed_themes(session)
    office = Organisation(kind=OrgKind.office, name="가람교육청")
    other = Organisation(kind=OrgKind.office, name="나래교육청")
    session.add_all([office, other])
    session.flush()
    office.office_id, other.office_id = office.id, other.id
    school = Organisation(
        kind=OrgKind.school,
        name="가람초",
        parent_id=office.id,
        office_id=office.id,
        school_level=SchoolLevel.elementary,
    )
    school_b = Organisation(
        kind=OrgKind.school,
        name="가온초",
        parent_id=office.id,
        office_id=office.id,
        school_level=SchoolLevel.elementary,
    )
    foreign = Organisation(
        kind=OrgKind.school,
        name="나래초",
        parent_id=other.id,
        office_id=other.id,
        school_level=SchoolLevel.elementary,
    )
    session.add_all([school, school_b, foreign])
    session.flush()
    u: dict[str, User] = {}
    u["office_admin"] = make_user(session, "office-admin", Role.office_admin, office, office)
    u["other_office_admin"] = make_user(session, "other-office-admin", Role.office_admin, other, other)
    u["school_admin"] = make_user(session, "school-admin", Role.school_admin, school, office)
    u["school_b_admin"] = make_user(session, "school-b-admin", Role.school_admin, school_b, office)
    u["foreign_admin"] = make_user(session, "foreign-admin", Role.school_admin, foreign, other)
    u["teacher"] = make_user(session, "teacher", Role.teacher, school, office)
    u["teacher2"] = make_user(session, "teacher2", Role.teacher, school, office)
    u["teacher_b"] = make_user(session, "teacher-b", Role.teacher, school_b, office)
    u["foreign_teacher"] = make_user(session, "foreign-teacher", Role.teacher, foreign, other)
    cls = make_class(session, school, 5, "1반", students, "a51", office, u["teacher"])
    cls2 = make_class(session, school, 5, "2반", students, "a52", office, u["teacher2"])
    cls_g6 = make_class(session, school, 6, "1반", students, "a61", office, None)
    cls_b = make_class(session, school_b, 5, "1반", students, "b51", office, u["teacher_b"])
    foreign_cls = make_class(session, foreign, 5, "1반", students, "f51", other, u["foreign_teacher"])
    from sqlalchemy import select

    def first_student(c: SchoolClass) -> User:
        return session.scalars(
            select(User)
            .join(ClassMembership, ClassMembership.user_id == User.id)
            .where(ClassMembership.class_id == c.id, ClassMembership.role == MemberRole.student)
            .order_by(ClassMembership.number)
        ).first()  # type: ignore[return-value]

    u["student"] = first_student(cls)
    u["student2"] = first_student(cls2)
    u["student_b"] = first_student(cls_b)
    u["foreign_student"] = first_student(foreign_cls)
    u["parent"] = make_user(session, "parent", Role.parent, school, office)
    session.add(ParentLink(parent_id=u["parent"].id, child_id=u["student"].id))
    u["instructor"] = make_user(session, "instructor", Role.instructor, office, office)
    u["external"] = make_user(session, "external", Role.instructor, office, office)
    themes = list(session.scalars(select(Theme).order_by(Theme.position)))
    session.add(
        InstructorProfile(user_id=u["instructor"].id, office_id=office.id, external=False, themes=themes[:2])
    )
    session.add(
        InstructorProfile(user_id=u["external"].id, office_id=office.id, external=True, themes=themes[2:3])
    )
    session.flush()
    return World(office, other, school, school_b, foreign, cls, cls2, cls_g6, cls_b, foreign_cls, u, themes)


def course_input(world: World, level: str = "class", **overrides: object) -> CourseInput:
    """A valid request for the given level; override any field."""
    start = date.today() + timedelta(days=7)
    base: dict[str, object] = dict(
        level=level,
        theme_id=world.themes[0].id,
        title="생활 안전 교실",
        goals="위험을 알아차리고 대처한다.",
        delivery="live",
        lesson_count=4,
        hours=8,
        start_date=start,
        end_date=start + timedelta(days=28),
        instructor_mode="office",
        instructor_id=None,
        recording_policy="none",
    )
    if level == "class":
        base["class_id"] = world.cls.id
    elif level == "office":
        base["targets"] = [TargetInput(world.school.id), TargetInput(world.school_b.id)]
    base.update(overrides)
    return CourseInput(**base)  # type: ignore[arg-type]
