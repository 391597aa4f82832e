"""People an admin manages: the list (search, filters, pages), a person's class and family, edits, moving a
student to another class of their school, and linking parents to children.

Whom an admin manages, and what they may do to whom, is decided in courses/policy.py; the views audit what
is read and changed. A student's class is their homeroom membership of the school year shown now: the
current one (from 1 March) when the school has classes in it, else the latest before it, else the first.
Course enrolments are per student and course, never per class: moving a student keeps every enrolment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from courses import text
from courses.completion import school_year_of
from courses.db import utcnow
from courses.errors import N_, Errors, Forbidden, NotFound
from courses.models import (
    ClassMembership,
    MemberRole,
    Organisation,
    OrgKind,
    ParentLink,
    Role,
    SchoolClass,
    User,
)
from courses.policy import (
    PEOPLE_ADMINS,
    can_see_school,
    get_person,
    manageable_clause,
    may_act_on_person,
    require_person_action,
    school_scope,
)

PAGE = 50
CANDIDATES = 20  # parents or children offered for linking, per search
NAME_MAX = 80  # User.name
EMAIL_MAX = 254  # User.email
NUMBER_MAX = 99
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

ROLE_LABELS = {
    Role.teacher: N_("교사"),
    Role.student: N_("학생"),
    Role.parent: N_("보호자"),
    Role.school_admin: N_("학교 관리자"),
    Role.office_admin: N_("교육청 관리자"),
    Role.instructor: N_("강사"),
}
SCHOOL_ROLES = (Role.school_admin, Role.teacher, Role.student, Role.parent)
STATUS_LABELS = {"active": N_("사용 중"), "disabled": N_("사용 중지")}


def _year_shown(years: Iterable[int], today: date) -> int | None:
    """Of the school years that have classes, the one shown now (see the module's docstring)."""
    ordered = sorted(set(years))
    if not ordered:
        return None
    now = school_year_of(today)
    past = [y for y in ordered if y <= now]
    return past[-1] if past else ordered[0]


def school_year_shown(session: Session, school_id: int, today: date | None = None) -> int | None:
    """The school year whose classes a school's lists and filters use."""
    years = session.scalars(
        select(SchoolClass.school_year).where(SchoolClass.school_id == school_id).distinct()
    )
    return _year_shown(years, today or utcnow().date())


# ---------------------------------------------------------------------------------------------------
# The list.


@dataclass(frozen=True)
class PeopleFilter:
    """What the people list is narrowed to (all optional); types are checked by the caller."""

    q: str = ""
    role: Role | None = None
    school_id: int | None = None  # office admins; a school admin's list is their school
    grade: int | None = None
    class_id: int | None = None
    status: str = ""  # "", "active" or "disabled"


@dataclass
class FilterOptions:
    """What the filters offer this admin: roles, schools (office admins), the chosen school's classes."""

    roles: list[Role]
    schools: list[tuple[int, str]]
    school_id: int | None  # the school whose grades and classes are offered
    school_year: int | None
    grades: list[int]
    classes: list[SchoolClass]


def filter_options(session: Session, actor: User, f: PeopleFilter) -> FilterOptions:
    """The filters' choices; ValidationError naming the field when a chosen value is not one of them."""
    if actor.role not in PEOPLE_ADMINS:
        raise NotFound()
    e = Errors()
    office = actor.role == Role.office_admin
    schools: list[tuple[int, str]] = []
    if office:
        schools = [
            (sid, name)
            for sid, name in session.execute(
                select(Organisation.id, Organisation.name)
                .where(school_scope(actor), Organisation.kind == OrgKind.school)
                .order_by(Organisation.name, Organisation.id)
            )
        ]
        if f.school_id is not None and f.school_id not in {sid for sid, _ in schools}:
            e.add("school_id", N_("목록에 있는 학교를 고르세요."))
    school_id = (f.school_id if f.school_id is not None and not e else None) if office else actor.org_id
    year = school_year_shown(session, school_id) if school_id is not None else None
    classes: list[SchoolClass] = []
    if school_id is not None and year is not None:
        classes = list(
            session.scalars(
                select(SchoolClass)
                .where(SchoolClass.school_id == school_id, SchoolClass.school_year == year)
                .order_by(SchoolClass.grade, SchoolClass.name, SchoolClass.id)
            )
        )
    if school_id is None and (f.grade is not None or f.class_id is not None) and "school_id" not in e.errors:
        e.add(
            "grade" if f.grade is not None else "class_id", N_("학년·반으로 찾으려면 먼저 학교를 고르세요.")
        )
    if f.grade is not None and not 1 <= f.grade <= 12:
        e.add("grade", N_("학년이 올바르지 않습니다."))
    if f.class_id is not None and school_id is not None and f.class_id not in {c.id for c in classes}:
        e.add("class_id", N_("목록에 있는 반을 고르세요."))
    if f.status not in ("", *STATUS_LABELS):
        e.add("status", N_("허용되지 않는 값입니다."))
    if f.role is not None and not office and f.role not in SCHOOL_ROLES:
        e.add("role", N_("허용되지 않는 값입니다."))
    e.raise_if_any()
    return FilterOptions(
        roles=list(ROLE_LABELS) if office else list(SCHOOL_ROLES),
        schools=schools,
        school_id=school_id,
        school_year=year,
        grades=sorted({c.grade for c in classes}),
        classes=classes,
    )


def describe(f: PeopleFilter, options: FilterOptions) -> str:
    """The filter as people say it, for the audit log: names, never ids."""
    parts = [f'"{f.q}"'] if f.q else []
    if f.role is not None:
        parts.append(ROLE_LABELS[f.role])
    if options.schools and options.school_id is not None:
        parts.append(dict(options.schools).get(options.school_id, ""))
    cls = next((c for c in options.classes if c.id == f.class_id), None)
    if cls is not None:
        parts.append(cls.label)
    elif f.grade is not None:
        parts.append(f"{f.grade}학년")
    if f.status:
        parts.append(STATUS_LABELS[f.status])
    return ", ".join(parts) or "전체"


@dataclass
class PersonRow:
    """One person on the list, with what tells them apart: school, class and number, children."""

    user: User
    school: str
    classes: list[tuple[SchoolClass, int | None]] = field(default_factory=list)  # students: one
    children: list[str] = field(default_factory=list)  # parents: their children's names


@dataclass
class PeoplePage:
    """One page of the list and how many match in all."""

    rows: list[PersonRow]
    total: int
    page: int
    pages: int


def find_people(
    session: Session, actor: User, f: PeopleFilter, options: FilterOptions, *, page: int = 1
) -> PeoplePage:
    """People the admin manages matching the filter (checked by filter_options), a page at a time."""
    if actor.role not in PEOPLE_ADMINS:
        raise NotFound()
    stmt = select(User).where(manageable_clause(actor))
    if f.q:
        like = text.contains_pattern(f.q)
        stmt = stmt.where(or_(User.name.like(like, escape="\\"), User.username.like(like, escape="\\")))
    if f.role is not None:
        stmt = stmt.where(User.role == f.role)
    if actor.role == Role.office_admin and options.school_id is not None:
        stmt = stmt.where(User.org_id == options.school_id)
    if f.status:
        stmt = stmt.where(User.active.is_(f.status == "active"))
    order: list[Any] = []
    if f.class_id is not None:
        # The class's teachers first, then its students by number.
        stmt = stmt.join(
            ClassMembership,
            and_(ClassMembership.user_id == User.id, ClassMembership.class_id == f.class_id),
        )
        order = [
            case((ClassMembership.role == MemberRole.teacher, 0), else_=1),
            ClassMembership.number,
        ]
    elif f.grade is not None and options.school_id is not None:
        stmt = stmt.where(
            exists()
            .where(ClassMembership.user_id == User.id)
            .where(
                ClassMembership.class_id.in_(
                    select(SchoolClass.id).where(
                        SchoolClass.school_id == options.school_id,
                        SchoolClass.school_year == options.school_year,
                        SchoolClass.grade == f.grade,
                    )
                )
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, (total + PAGE - 1) // PAGE)
    page = max(1, min(page, pages))
    users = list(
        session.scalars(stmt.order_by(*order, User.name, User.id).limit(PAGE).offset((page - 1) * PAGE))
    )
    return PeoplePage(_rows(session, users), total, page, pages)


def _rows(session: Session, users: list[User]) -> list[PersonRow]:
    """The page's people with their school, classes (shown year) and children: three queries a page."""
    ids = [u.id for u in users]
    if not ids:
        return []
    orgs = {
        oid: name
        for oid, name in session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_({u.org_id for u in users}))
        )
    }
    held: dict[int, list[tuple[SchoolClass, int | None]]] = {}
    for user_id, cls, number in session.execute(
        select(ClassMembership.user_id, SchoolClass, ClassMembership.number)
        .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
        .where(ClassMembership.user_id.in_(ids))
        .order_by(SchoolClass.grade, SchoolClass.name, SchoolClass.id)
    ):
        held.setdefault(user_id, []).append((cls, number))
    children: dict[int, list[str]] = {}
    for parent_id, name in session.execute(
        select(ParentLink.parent_id, User.name)
        .join(User, User.id == ParentLink.child_id)
        .where(ParentLink.parent_id.in_(ids))
        .order_by(User.name, User.id)
    ):
        children.setdefault(parent_id, []).append(name)
    today = utcnow().date()
    rows = []
    for u in users:
        mine = held.get(u.id, [])
        year = _year_shown((c.school_year for c, _ in mine), today)
        rows.append(
            PersonRow(
                u,
                orgs.get(u.org_id, ""),
                [(c, n if u.role == Role.student else None) for c, n in mine if c.school_year == year],
                children.get(u.id, []),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------------
# One person.


def homeroom(session: Session, student: User, today: date | None = None) -> ClassMembership | None:
    """The student's class membership of the school year shown now, if they have one."""
    held = list(
        session.scalars(
            select(ClassMembership)
            .join(SchoolClass, SchoolClass.id == ClassMembership.class_id)
            .where(ClassMembership.user_id == student.id, ClassMembership.role == MemberRole.student)
        )
    )
    year = _year_shown((m.school_class.school_year for m in held), today or utcnow().date())
    return next((m for m in held if m.school_class.school_year == year), None)


@dataclass
class Profile:
    """A person as their admin sees them: class, family, and the classes a student may move to."""

    person: User
    homeroom: ClassMembership | None = None
    taught: list[SchoolClass] = field(default_factory=list)
    parents: list[User] = field(default_factory=list)
    children: list[tuple[User, ClassMembership | None]] = field(default_factory=list)
    move_to: list[SchoolClass] = field(default_factory=list)


def profile(session: Session, actor: User, user_id: int) -> Profile:
    """The person page's data; NotFound outside the admin's scope."""
    person = get_person(session, actor, user_id)
    p = Profile(person)
    if person.role == Role.student:
        p.homeroom = homeroom(session, person)
        p.parents = list(
            session.scalars(
                select(User)
                .join(ParentLink, ParentLink.parent_id == User.id)
                .where(ParentLink.child_id == person.id)
                .order_by(User.name, User.id)
            )
        )
        if may_act_on_person(actor, person, "move_class"):
            p.move_to = _classes_to_move_to(session, person, p.homeroom)
    elif person.role == Role.parent:
        kids = session.scalars(
            select(User)
            .join(ParentLink, ParentLink.child_id == User.id)
            .where(ParentLink.parent_id == person.id)
            .order_by(User.name, User.id)
        )
        p.children = [(k, homeroom(session, k)) for k in kids]  # a handful at most
    elif person.role in (Role.teacher, Role.school_admin):
        year = school_year_shown(session, person.org_id)
        p.taught = list(
            session.scalars(
                select(SchoolClass)
                .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
                .where(
                    ClassMembership.user_id == person.id,
                    ClassMembership.role == MemberRole.teacher,
                    SchoolClass.school_year == year,
                )
                .order_by(SchoolClass.grade, SchoolClass.name)
            )
        )
    return p


def _classes_to_move_to(
    session: Session, student: User, current: ClassMembership | None
) -> list[SchoolClass]:
    """The student's school's classes of the year of their class (or the year shown), but their own."""
    year = current.school_class.school_year if current else school_year_shown(session, student.org_id)
    if year is None:
        return []
    stmt = select(SchoolClass).where(SchoolClass.school_id == student.org_id, SchoolClass.school_year == year)
    if current is not None:
        stmt = stmt.where(SchoolClass.id != current.class_id)
    return list(session.scalars(stmt.order_by(SchoolClass.grade, SchoolClass.name, SchoolClass.id)))


def _check_number(
    e: Errors, session: Session, class_id: int, number: int | None, student_id: int, key: str = "number"
) -> None:
    """A number in class is 1–99 and not another student's of the same class."""
    if number is None:
        return
    if not 1 <= number <= NUMBER_MAX:
        e.add(key, N_("번호는 1~%(max)d 사이로 입력하세요."), max=NUMBER_MAX)
        return
    holder = session.scalar(
        select(User.name)
        .join(ClassMembership, ClassMembership.user_id == User.id)
        .where(
            ClassMembership.class_id == class_id,
            ClassMembership.role == MemberRole.student,
            ClassMembership.number == number,
            ClassMembership.user_id != student_id,
        )
        .limit(1)
    )
    if holder is not None:
        e.add(key, N_("같은 반의 %(name)s 학생이 이미 %(n)d번입니다."), name=holder, n=number)


@dataclass(frozen=True)
class PersonEdit:
    """What an admin may change of a person; set_number says whether the form had a number at all."""

    name: str
    email: str
    number: int | None = None
    set_number: bool = False


@dataclass(frozen=True)
class Change:
    """One changed field (a msgid), with the values before and after (None: not for the audit log)."""

    label: str
    before: str | None
    after: str | None


def edit_person(session: Session, actor: User, user_id: int, edit: PersonEdit) -> list[Change]:
    """Change a person's name, e-mail and (students) number in class; returns what changed."""
    person = get_person(session, actor, user_id)
    require_person_action(actor, person, "edit", N_("이 사용자의 정보는 바꿀 수 없습니다."))
    e = Errors()
    name = text.clean(edit.name)
    if not text.visible_length(name):
        e.add("name", N_("이름을 입력하세요."))
    elif len(name) > NAME_MAX:
        e.add("name", N_("이름은 %(max)d자 이하로 입력하세요."), max=NAME_MAX)
    email = text.clean(edit.email) or None
    if email is not None and (len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email)):
        e.add("email", N_("이메일 주소 형식이 올바르지 않습니다 (예: name@school.kr)."))
    member = None
    if edit.set_number:
        member = homeroom(session, person) if person.role == Role.student else None
        if person.role != Role.student:
            e.add("number", N_("반 번호는 학생에게만 있습니다."))
        elif member is None and edit.number is not None:
            e.add("number", N_("반에 배정된 학생만 번호를 정할 수 있습니다."))
        elif member is not None:
            _check_number(e, session, member.class_id, edit.number, person.id)
    e.raise_if_any()
    changes = []
    if name != person.name:
        changes.append(Change(N_("이름"), person.name, name))
        person.name = name
    if email != person.email:
        changes.append(Change(N_("이메일"), None, None))
        person.email = email
    if member is not None and edit.number != member.number:
        changes.append(Change(N_("번호"), str(member.number or "-"), str(edit.number or "-")))
        member.number = edit.number
    return changes


@dataclass(frozen=True)
class Move:
    """A student's move: from which class (None: they had none) to which, and their number there."""

    student: User
    before: SchoolClass | None
    after: SchoolClass
    number: int | None


def move_to_class(
    session: Session, actor: User, user_id: int, class_id: int, number: int | None = None
) -> Move:
    """Move a student to another class of their school and school year (or give them their first one).

    Only the class membership changes: enrolments are per student and course and are all kept.
    """
    student = get_person(session, actor, user_id)
    require_person_action(actor, student, "move_class", N_("학생만 반을 옮길 수 있습니다."))
    target = session.get(SchoolClass, class_id)
    if target is None or not can_see_school(session, actor, target.school_id):
        raise NotFound(N_("찾을 수 없는 반입니다."))
    if target.school_id != student.org_id:
        raise Forbidden(N_("다른 학교의 반으로는 옮길 수 없습니다."))
    current = homeroom(session, student)
    e = Errors()
    if current is not None and current.class_id == target.id:
        e.add("class_id", N_("지금 있는 반입니다. 다른 반을 고르세요."))
    elif current is not None and target.school_year != current.school_class.school_year:
        e.add("class_id", N_("같은 학년도의 반만 고를 수 있습니다."))
    _check_number(e, session, target.id, number, student.id, key="new_number")
    e.raise_if_any()
    before = current.school_class if current else None
    if current is None:
        session.add(
            ClassMembership(class_id=target.id, user_id=student.id, role=MemberRole.student, number=number)
        )
    else:
        current.class_id = target.id
        current.number = number
    session.flush()
    if current is not None:
        session.expire(current, ["school_class"])
    return Move(student, before, target, number)


# ---------------------------------------------------------------------------------------------------
# Parents and children.


def _family(session: Session, actor: User, person_id: int, other_id: int) -> tuple[User, User]:
    """(parent, child) for a person and the one they are to be linked with, both in the admin's scope."""
    person = get_person(session, actor, person_id)
    require_person_action(actor, person, "link_family", N_("보호자와 학생만 서로 연결할 수 있습니다."))
    other = get_person(session, actor, other_id)
    e = Errors()
    if person.role == Role.student and other.role != Role.parent:
        e.add("other_id", N_("보호자 계정을 고르세요."))
    elif person.role == Role.parent and other.role != Role.student:
        e.add("other_id", N_("학생 계정을 고르세요."))
    e.raise_if_any()
    return (other, person) if person.role == Role.student else (person, other)


def _linked(session: Session, parent: User, child: User) -> ParentLink | None:
    return session.scalar(
        select(ParentLink).where(ParentLink.parent_id == parent.id, ParentLink.child_id == child.id)
    )


def link_family(session: Session, actor: User, person_id: int, other_id: int) -> tuple[User, User]:
    """Link a parent and a child of the same school (from either one's page); returns (parent, child)."""
    parent, child = _family(session, actor, person_id, other_id)
    if parent.org_id != child.org_id:
        raise Forbidden(N_("같은 학교의 보호자와 학생만 연결할 수 있습니다."))
    if _linked(session, parent, child) is not None:
        e = Errors()
        e.add("other_id", N_("이미 연결되어 있습니다."))
        e.raise_if_any()
    session.add(ParentLink(parent_id=parent.id, child_id=child.id))
    session.flush()
    return parent, child


def family_link(session: Session, actor: User, person_id: int, other_id: int) -> tuple[User, User]:
    """(parent, child) of an existing link the admin may remove; NotFound when there is none."""
    parent, child = _family(session, actor, person_id, other_id)
    if _linked(session, parent, child) is None:
        raise NotFound(N_("연결되어 있지 않습니다."))
    return parent, child


def unlink_family(session: Session, actor: User, person_id: int, other_id: int) -> tuple[User, User]:
    """Remove a parent's link to a child; the parent no longer sees the child. Returns (parent, child)."""
    parent, child = family_link(session, actor, person_id, other_id)
    session.delete(_linked(session, parent, child))
    session.flush()
    return parent, child


def link_candidates(
    session: Session, actor: User, person: User, q: str
) -> list[tuple[User, ClassMembership | None]]:
    """Whom a student's parent (or a parent's child) may be: the same school's, by name or username, not
    linked yet; children come with their class so that two of one name can be told apart."""
    q = text.clean(q)[:64]
    if not q or not may_act_on_person(actor, person, "link_family"):
        return []
    student = person.role == Role.student
    mine = (
        select(ParentLink.parent_id).where(ParentLink.child_id == person.id)
        if student
        else select(ParentLink.child_id).where(ParentLink.parent_id == person.id)
    )
    like = text.contains_pattern(q)
    found = session.scalars(
        select(User)
        .where(
            manageable_clause(actor),
            User.role == (Role.parent if student else Role.student),
            User.org_id == person.org_id,
            User.id.not_in(mine),
            or_(User.name.like(like, escape="\\"), User.username.like(like, escape="\\")),
        )
        .order_by(User.name, User.id)
        .limit(CANDIDATES)
    )
    return [(u, None if student else homeroom(session, u)) for u in found]


__all__ = [
    "CANDIDATES",
    "PAGE",
    "ROLE_LABELS",
    "STATUS_LABELS",
    "Change",
    "FilterOptions",
    "Move",
    "PeopleFilter",
    "PeoplePage",
    "PersonEdit",
    "PersonRow",
    "Profile",
    "describe",
    "edit_person",
    "family_link",
    "filter_options",
    "find_people",
    "homeroom",
    "link_candidates",
    "link_family",
    "move_to_class",
    "profile",
    "school_year_shown",
    "unlink_family",
]
