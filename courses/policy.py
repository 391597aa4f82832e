"""Who may see and do what to a course: one table, read by pages, the API, the lists and the services.

A person stands in one or more *relations* to a course (requester, its office's admin, an admin of a
target school, an enrolled student …). Each relation is written once, as a Python predicate and, beside
it, as a SQL clause on ``Course`` for the lists; ``tests/unit/test_policy.py`` checks that both agree on
the demo data. ``RULES`` then says, per action, which relations may take it and in which statuses (for
the workflow's transitions, the statuses come from the state machine ``TRANSITIONS``). Outside the
actor's scope a course is NotFound, never data; inside it, an action not allowed is Forbidden.

A course shared by several schools (office level) belongs to the office: an admin of a target school
may enrol their own students and see their own students' results, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from courses.errors import N_, Forbidden, InvalidTransition, NotFound
from courses.models import (
    ClassMembership,
    Course,
    CourseLevel,
    CourseStatus,
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

# ---------------------------------------------------------------------------------------------------
# Scope: which schools an actor's data reaches at all.


def taught_class_ids(actor: User) -> Select[int]:
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
        child_schools = (
            select(User.org_id)
            .join(ParentLink, ParentLink.child_id == User.id)
            .where(ParentLink.parent_id == actor.id)
        )
        return Organisation.id.in_(child_schools)
    return false()


def can_see_school(session: Session, actor: User, school_id: int) -> bool:
    """Whether a school is inside the actor's scope."""
    return (
        session.scalar(select(Organisation.id).where(Organisation.id == school_id, school_scope(actor)))
        is not None
    )


# ---------------------------------------------------------------------------------------------------
# People: whose accounts an admin manages, and what they may do to them. Read by the people list (SQL),
# the person page and every service that changes a person (Python); tests/unit/test_policy.py checks
# that both forms agree.


def may_manage_account(actor: User, user: User) -> bool:
    """An office admin manages the office's people; a school admin their school's (not office admins)."""
    if actor.id == user.id:
        return True
    if actor.role == Role.office_admin:
        return user.office_id == actor.office_id
    if actor.role == Role.school_admin:
        return user.org_id == actor.org_id and user.role != Role.office_admin
    return False


def manageable_clause(actor: User) -> ColumnElement[bool]:
    """The SQL form of may_manage_account (others than oneself): a filter on User for the people lists."""
    if actor.role == Role.office_admin:
        return User.office_id == actor.office_id
    if actor.role == Role.school_admin:
        return and_(User.org_id == actor.org_id, User.role != Role.office_admin)
    return false()


PEOPLE_ADMINS = frozenset({Role.office_admin, Role.school_admin})
# What an admin may do to a person they manage, by the person's role.
PERSON_ACTIONS: dict[str, frozenset[Role]] = {
    "edit": frozenset(Role),  # name, e-mail, a student's number in class
    "move_class": frozenset({Role.student}),
    "link_family": frozenset({Role.student, Role.parent}),  # a parent to a child, from either side
}


def get_person(session: Session, actor: User, user_id: int) -> User:
    """A person an admin manages (themself included); NotFound for anyone else, or for a non-admin."""
    user = session.get(User, user_id)
    if actor.role not in PEOPLE_ADMINS or user is None or not may_manage_account(actor, user):
        raise NotFound()
    return user


def may_act_on_person(actor: User, person: User, action: str) -> bool:
    """Whether the admin may take the action on a person they manage."""
    return actor.role in PEOPLE_ADMINS and person.role in PERSON_ACTIONS[action]


def require_person_action(actor: User, person: User, action: str, message: str) -> None:
    """Forbidden (with the message) unless the admin may take the action on this person."""
    if not may_act_on_person(actor, person, action):
        raise Forbidden(message)


# ---------------------------------------------------------------------------------------------------
# Relations of a person to a course, each as a Python predicate and a SQL clause.


class Rel(StrEnum):
    """How a person stands to a course."""

    requester = "requester"
    instructor = "instructor"
    approver = "approver"
    office = "office"
    school = "school"
    target_school = "target_school"
    target_teacher = "target_teacher"
    student = "student"
    parent = "parent"


REL_LABELS = {
    Rel.requester: "the requester",
    Rel.instructor: "the assigned instructor",
    Rel.approver: "the approver (office admin for office- and school-level requests, the school's admin for class-level)",
    Rel.office: "an admin of the course's office",
    Rel.school: "an admin of the school that owns a school- or class-level course",
    Rel.target_school: "an admin of a target school of a course another school or the office owns (a shared course)",
    Rel.target_teacher: "a teacher of a targeted class or grade",
    Rel.student: "an enrolled student",
    Rel.parent: "a parent of an enrolled student",
}


def _approver_py(actor: User, course: Course) -> bool:
    if course.level == CourseLevel.class_:
        return actor.role == Role.school_admin and actor.org_id == course.school_id
    return actor.role == Role.office_admin and actor.office_id == course.office_id


def _approver_sql(actor: User) -> ColumnElement[bool]:
    if actor.role == Role.school_admin:
        return and_(Course.level == CourseLevel.class_, Course.school_id == actor.org_id)
    if actor.role == Role.office_admin:
        return and_(Course.level != CourseLevel.class_, Course.office_id == actor.office_id)
    return false()


def _office_py(actor: User, course: Course) -> bool:
    return actor.role == Role.office_admin and actor.office_id == course.office_id


def _office_sql(actor: User) -> ColumnElement[bool]:
    return Course.office_id == actor.office_id if actor.role == Role.office_admin else false()


def _school_py(actor: User, course: Course) -> bool:
    return (
        actor.role == Role.school_admin and course.school_id is not None and actor.org_id == course.school_id
    )


def _school_sql(actor: User) -> ColumnElement[bool]:
    return Course.school_id == actor.org_id if actor.role == Role.school_admin else false()


def _target_school_py(actor: User, course: Course) -> bool:
    return (
        actor.role == Role.school_admin
        and course.school_id != actor.org_id
        and any(t.school_id == actor.org_id for t in course.targets)
    )


def _target_school_sql(actor: User) -> ColumnElement[bool]:
    if actor.role != Role.school_admin:
        return false()
    return and_(
        or_(Course.school_id.is_(None), Course.school_id != actor.org_id),
        exists().where(CourseTarget.course_id == Course.id, CourseTarget.school_id == actor.org_id),
    )


def _target_teacher_sql(actor: User) -> ColumnElement[bool]:
    if actor.role != Role.teacher:
        return false()
    taught = taught_class_ids(actor)
    return exists().where(
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


def _student_sql(actor: User) -> ColumnElement[bool]:
    if actor.role != Role.student:
        return false()
    return exists().where(Enrolment.course_id == Course.id, Enrolment.student_id == actor.id)


def _parent_sql(actor: User) -> ColumnElement[bool]:
    if actor.role != Role.parent:
        return false()
    children = select(ParentLink.child_id).where(ParentLink.parent_id == actor.id)
    return exists().where(Enrolment.course_id == Course.id, Enrolment.student_id.in_(children))


@dataclass(frozen=True)
class Relation:
    """One relation: its SQL clause for lists and, where the course row alone decides it, a Python form."""

    sql: Callable[[User], ColumnElement[bool]]
    py: Callable[[User, Course], bool] | None = None  # None: decided by rows of other tables (asked by SQL)


RELATIONS: dict[Rel, Relation] = {
    Rel.requester: Relation(
        sql=lambda a: Course.requester_id == a.id, py=lambda a, c: a.id == c.requester_id
    ),
    Rel.instructor: Relation(
        sql=lambda a: Course.instructor_id == a.id,
        py=lambda a, c: c.instructor_id is not None and a.id == c.instructor_id,
    ),
    Rel.approver: Relation(sql=_approver_sql, py=_approver_py),
    Rel.office: Relation(sql=_office_sql, py=_office_py),
    Rel.school: Relation(sql=_school_sql, py=_school_py),
    Rel.target_school: Relation(sql=_target_school_sql, py=_target_school_py),
    Rel.target_teacher: Relation(sql=_target_teacher_sql),
    Rel.student: Relation(sql=_student_sql),
    Rel.parent: Relation(sql=_parent_sql),
}

# Which relations a role can have at all (the rest are false for it without asking).
ROLE_RELATIONS: dict[Role, frozenset[Rel]] = {
    Role.office_admin: frozenset({Rel.requester, Rel.instructor, Rel.approver, Rel.office}),
    Role.school_admin: frozenset(
        {Rel.requester, Rel.instructor, Rel.approver, Rel.school, Rel.target_school}
    ),
    Role.teacher: frozenset({Rel.requester, Rel.instructor, Rel.target_teacher}),
    Role.instructor: frozenset({Rel.requester, Rel.instructor}),
    Role.student: frozenset({Rel.student}),
    Role.parent: frozenset({Rel.parent}),
}


def relations(session: Session, actor: User, course: Course) -> frozenset[Rel]:
    """Every relation the actor has to the course."""
    out: set[Rel] = set()
    ask_db: list[Rel] = []
    for rel in ROLE_RELATIONS.get(actor.role, frozenset()):
        form = RELATIONS[rel]
        if form.py is None:
            ask_db.append(rel)
        elif form.py(actor, course):
            out.add(rel)
    for rel in ask_db:
        if (
            session.scalar(select(Course.id).where(Course.id == course.id, RELATIONS[rel].sql(actor)))
            is not None
        ):
            out.add(rel)
    return frozenset(out)


def relation_clause(actor: User, rels: Iterable[Rel]) -> ColumnElement[bool]:
    """A filter on Course: the actor has at least one of these relations."""
    possible = ROLE_RELATIONS.get(actor.role, frozenset())
    clauses = [RELATIONS[r].sql(actor) for r in rels if r in possible]
    return or_(*clauses) if clauses else false()


# ---------------------------------------------------------------------------------------------------
# The state machine and the table of actions.

# The state machine schools follow; anything else is refused with InvalidTransition.
TRANSITIONS: dict[CourseStatus, frozenset[CourseStatus]] = {
    CourseStatus.submitted: frozenset({CourseStatus.approved, CourseStatus.rejected, CourseStatus.withdrawn}),
    CourseStatus.rejected: frozenset({CourseStatus.submitted}),
    CourseStatus.approved: frozenset({CourseStatus.running, CourseStatus.cancelled}),
    CourseStatus.running: frozenset({CourseStatus.completed}),
    CourseStatus.completed: frozenset({CourseStatus.confirmed}),
    CourseStatus.confirmed: frozenset({CourseStatus.paid}),
    CourseStatus.paid: frozenset({CourseStatus.evaluated}),
}

ANY_STATUS = frozenset(CourseStatus)
OPEN = frozenset({CourseStatus.approved, CourseStatus.running})
# A student's viewing counts while the course runs; once it is completed the school confirms what was watched.
WATCHABLE = frozenset({CourseStatus.running})
# A course's satisfaction survey is answered from its last lesson on (the survey's own dates decide within).
SURVEYED = frozenset(
    {
        CourseStatus.running,
        CourseStatus.completed,
        CourseStatus.confirmed,
        CourseStatus.paid,
        CourseStatus.evaluated,
    }
)
EVERYONE = frozenset(Rel)
# Those who run a course: its requester and instructor, and the admins who own it (its office; its school
# for school- and class-level courses). An admin of a target school of a shared course is not one of them.
RUNNERS = frozenset({Rel.requester, Rel.instructor, Rel.office, Rel.school})


def _from(to: CourseStatus) -> frozenset[CourseStatus]:
    return frozenset(s for s, nxt in TRANSITIONS.items() if to in nxt)


@dataclass(frozen=True)
class Rule:
    """Who may take an action, and in which course statuses."""

    who: frozenset[Rel]
    statuses: frozenset[CourseStatus]
    to: CourseStatus | None = None  # the status a workflow action moves the course to
    note: str = ""


RULES: dict[str, Rule] = {
    "view": Rule(EVERYONE, ANY_STATUS, note="see the course page"),
    "approve": Rule(frozenset({Rel.approver}), _from(CourseStatus.approved), CourseStatus.approved),
    "reject": Rule(frozenset({Rel.approver}), _from(CourseStatus.rejected), CourseStatus.rejected),
    "withdraw": Rule(frozenset({Rel.requester}), _from(CourseStatus.withdrawn), CourseStatus.withdrawn),
    "resubmit": Rule(frozenset({Rel.requester}), _from(CourseStatus.submitted), CourseStatus.submitted),
    "cancel": Rule(frozenset({Rel.approver}), _from(CourseStatus.cancelled), CourseStatus.cancelled),
    "start": Rule(RUNNERS, _from(CourseStatus.running), CourseStatus.running),
    "complete": Rule(RUNNERS, _from(CourseStatus.completed), CourseStatus.completed),
    "confirm": Rule(
        frozenset({Rel.school, Rel.target_school}),
        _from(CourseStatus.confirmed),
        CourseStatus.confirmed,
        note="confirm completion for one's own school's students (the course is confirmed once every school has)",
    ),
    "unconfirm": Rule(
        frozenset({Rel.school, Rel.target_school}),
        frozenset({CourseStatus.completed, CourseStatus.confirmed}),
        note="withdraw one's school's confirmation, with a reason (kept as history)",
    ),
    "set_completion_rules": Rule(
        frozenset({Rel.requester, Rel.office, Rel.school}),
        frozenset({CourseStatus.submitted, CourseStatus.approved, CourseStatus.running}),
        note="required lessons, credit hours per lesson, watch and attendance thresholds",
    ),
    "assign_instructor": Rule(
        frozenset({Rel.requester, Rel.approver, Rel.office, Rel.school}),
        frozenset({CourseStatus.submitted, CourseStatus.approved, CourseStatus.running}),
        note="give or replace the instructor",
    ),
    "edit_lessons": Rule(RUNNERS, OPEN, note="edit lessons, schedules and materials"),
    "enrol": Rule(
        RUNNERS | {Rel.target_school}, OPEN, note="enrol and unenrol students (a target school: its own)"
    ),
    "view_results": Rule(
        RUNNERS | {Rel.approver, Rel.target_school, Rel.target_teacher},
        ANY_STATUS,
        note="enrolment lists, attendance, chat and recordings (a target school or teacher: its own students)",
    ),
    "teach_live": Rule(
        frozenset({Rel.requester, Rel.instructor}), OPEN, note="join the live room as its teacher"
    ),
    "moderate_live": Rule(frozenset({Rel.office, Rel.school}), OPEN, note="join the live room as an admin"),
    "attend_live": Rule(frozenset({Rel.student}), OPEN, note="join the live room as a student"),
    "manage_videos": Rule(
        RUNNERS,
        OPEN | {CourseStatus.completed},
        note="upload lecture videos; publish, keep private or delete class recordings",
    ),
    "play_video": Rule(
        RUNNERS | {Rel.approver, Rel.target_school, Rel.target_teacher, Rel.student},
        ANY_STATUS,
        note="play a recorded lesson (students: while the course runs or after, see watch)",
    ),
    "watch": Rule(
        frozenset({Rel.student}),
        WATCHABLE,
        note="watch a recorded lesson for credit (watch progress is recorded)",
    ),
    "answer_survey": Rule(
        frozenset({Rel.student, Rel.parent}),
        SURVEYED,
        note="answer the satisfaction survey once, anonymously, while it is open (parents: when included)",
    ),
    "view_survey_results": Rule(
        RUNNERS | {Rel.approver, Rel.target_school, Rel.target_teacher},
        ANY_STATUS,
        note="the survey's aggregated results (items only from 3 responses on)",
    ),
    "manage_survey": Rule(
        RUNNERS,
        OPEN | (SURVEYED - {CourseStatus.evaluated}),
        note="the survey's closing time and whether parents answer",
    ),
}

# Buttons the course page offers (the rest are implied by pages: view, results, the live room).
BUTTONS = (
    "approve",
    "reject",
    "withdraw",
    "resubmit",
    "cancel",
    "start",
    "complete",
    "confirm",
    "enrol",
    "edit_lessons",
    "assign_instructor",
    "manage_videos",
)


def may(
    session: Session, actor: User, course: Course, action: str, *, rels: frozenset[Rel] | None = None
) -> bool:
    """Whether the actor may take the action on the course now (status and relation)."""
    rule = RULES[action]
    if course.status not in rule.statuses:
        return False
    have = relations(session, actor, course) if rels is None else rels
    return bool(have & rule.who)


def may_ever(session: Session, actor: User, course: Course, action: str) -> bool:
    """Whether the actor's relation allows the action in some status (the status is checked elsewhere)."""
    return bool(relations(session, actor, course) & RULES[action].who)


def require_action(session: Session, actor: User, course: Course, action: str) -> None:
    """Forbidden unless the actor's relations allow the action (the workflow checks the status first)."""
    if not may_ever(session, actor, course, action):
        raise Forbidden()


def require_status(
    course: Course, action: str, message: str = N_("이 상태의 강좌에서는 할 수 없는 일입니다.")
) -> None:
    """InvalidTransition unless the course's status admits the action."""
    if course.status not in RULES[action].statuses:
        raise InvalidTransition(message)


def allowed_actions(session: Session, actor: User, course: Course) -> set[str]:
    """The buttons the actor should see for this course now."""
    rels = relations(session, actor, course)
    return {a for a in BUTTONS if may(session, actor, course, a, rels=rels)}


def action_clause(actor: User, action: str) -> ColumnElement[bool]:
    """A filter on Course: the courses on which the actor may take the action now (the lists' form)."""
    rule = RULES[action]
    return and_(Course.status.in_(rule.statuses), relation_clause(actor, rule.who))


def course_filter(actor: User) -> ColumnElement[bool]:
    """A filter on Course: the courses the actor may see."""
    return relation_clause(actor, RULES["view"].who)


def get_course(session: Session, actor: User, course_id: int) -> Course:
    """The course if the actor may see it; NotFound otherwise (also when it does not exist)."""
    course = session.scalar(select(Course).where(Course.id == course_id, course_filter(actor)))
    if course is None:
        raise NotFound()
    return course


def approver_ids(session: Session, course: Course) -> list[int]:
    """Active users who may approve this course (whom a new request is announced to)."""
    if course.level == CourseLevel.class_:
        stmt = select(User.id).where(
            User.role == Role.school_admin, User.org_id == course.school_id, User.active
        )
    else:
        stmt = select(User.id).where(
            User.role == Role.office_admin, User.office_id == course.office_id, User.active
        )
    return list(session.scalars(stmt))


def results_school(session: Session, actor: User, course: Course) -> int | None:
    """Whose students' results the actor sees: None for all, else the one school they are limited to.

    Forbidden when the actor may not see results at all.
    """
    rels = relations(session, actor, course)
    if not rels & RULES["view_results"].who:
        raise Forbidden()
    if rels & (RUNNERS | {Rel.approver}):
        return None
    return actor.org_id  # a target school's admin or a targeted class's teacher: their own school only


def require(condition: bool) -> None:
    """Raise Forbidden unless condition holds."""
    if not condition:
        raise Forbidden()


def may_manage_themes(actor: User) -> bool:
    """Office admins add, edit, retire and delete the cross-curricular themes (one national list)."""
    return actor.role == Role.office_admin


def may_manage_instructor(actor: User, office_id: int) -> bool:
    """An office's admins edit, deactivate and reactivate the instructors of that office's pool."""
    return actor.role == Role.office_admin and actor.office_id == office_id


def markdown_table() -> str:
    """The table of actions as Markdown (docs/permissions.md is this text)."""
    status_order = list(CourseStatus)
    lines = [
        "# Who may do what to a course",
        "",
        "Generated from `courses/policy.py` (`python -m courses.policy`); a test checks this file matches it.",
        "",
        "| action | in statuses | who |",
        "|---|---|---|",
    ]
    for name, rule in RULES.items():
        statuses = (
            "any"
            if rule.statuses == ANY_STATUS
            else ", ".join(s.value for s in status_order if s in rule.statuses)
        )
        who = ", ".join(r.value for r in Rel if r in rule.who)
        label = name + (f" ({rule.note})" if rule.note else "") + (f" → {rule.to.value}" if rule.to else "")
        lines.append(f"| {label} | {statuses} | {who} |")
    lines += ["", "| relation | meaning |", "|---|---|"]
    lines += [f"| {r.value} | {REL_LABELS[r]} |" for r in Rel]
    lines += ["", "| role | relations it can have |", "|---|---|"]
    lines += [
        f"| {role.value} | {', '.join(r.value for r in Rel if r in rels)} |"
        for role, rels in ROLE_RELATIONS.items()
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "RELATIONS",
    "RULES",
    "Rel",
    "Rule",
    "TRANSITIONS",
    "action_clause",
    "allowed_actions",
    "approver_ids",
    "can_see_school",
    "course_filter",
    "get_course",
    "get_person",
    "manageable_clause",
    "markdown_table",
    "may",
    "may_act_on_person",
    "may_ever",
    "may_manage_account",
    "may_manage_instructor",
    "may_manage_themes",
    "relation_clause",
    "relations",
    "require",
    "require_action",
    "require_person_action",
    "require_status",
    "results_school",
    "school_scope",
    "taught_class_ids",
]

if __name__ == "__main__":
    print(markdown_table(), end="")
