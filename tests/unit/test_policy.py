"""The policy table: its Python and SQL forms agree on the demo data, and a shared course belongs to the office."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from courses import enrolment, live, policy, workflow
from courses.errors import Forbidden
from courses.models import Course, CourseStatus, User
from courses.seed import seed_demo
from tests.factories import course_input

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


@pytest.fixture()
def demo(session):
    seed_demo(session)
    users = list(session.scalars(select(User).order_by(User.id)))
    courses = list(session.scalars(select(Course).order_by(Course.id)))
    assert len(courses) >= 3 and len(users) > 100
    return users, courses


def test_python_and_sql_forms_of_every_relation_agree_on_the_demo(session, demo):
    users, courses = demo
    checked = 0
    for rel, form in policy.RELATIONS.items():
        if form.py is None:
            continue  # decided by SQL alone: nothing to disagree with
        for user in users:
            listed = set(session.scalars(select(Course.id).where(form.sql(user))))
            for course in courses:
                assert form.py(user, course) == (course.id in listed), (rel, user.username, course.title)
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize("action", ["approve", "confirm", "start", "enrol", "view", "view_results"])
def test_the_lists_form_of_an_action_agrees_with_may(session, demo, action):
    users, courses = demo
    for user in users:
        listed = set(session.scalars(select(Course.id).where(policy.action_clause(user, action))))
        for course in courses:
            assert policy.may(session, user, course, action) == (course.id in listed), (
                user.username,
                course.title,
            )


def test_whom_a_request_is_announced_to_are_its_approvers(session, demo):
    users, courses = demo
    for course in courses:
        ids = set(policy.approver_ids(session, course))
        assert ids == {
            u.id for u in users if u.active and policy.RELATIONS[policy.Rel.approver].py(u, course)
        }


def test_home_lists_read_the_policy(session, demo):
    from courses.home import pending_approvals

    users, courses = demo
    for user in users:
        pending = {c.id for c in pending_approvals(session, user)}
        assert pending == {c.id for c in courses if policy.may(session, user, c, "approve")}


def test_docs_table_is_the_policy_table():
    assert DOC.read_text(encoding="utf-8") == policy.markdown_table(), (
        "run: python -m courses.policy > docs/permissions.md"
    )


def test_transition_statuses_come_from_the_state_machine():
    for name, rule in policy.RULES.items():
        if rule.to is not None:
            assert rule.statuses == {s for s, nxt in policy.TRANSITIONS.items() if rule.to in nxt}, name


# --- a course shared by several schools belongs to the office --------------------------------------------


@pytest.fixture()
def shared(session, world):
    w = world
    c = workflow.submit_request(
        session, w["office_admin"], course_input(w, level="office", instructor_id=w["instructor"].id)
    )
    workflow.approve(session, w["office_admin"], c)
    session.flush()
    return c


@pytest.mark.parametrize(
    "action", ["start", "cancel", "assign_instructor", "edit_lessons", "approve", "confirm"]
)
def test_a_target_schools_admin_may_not_run_a_shared_course(session, world, shared, action):
    assert not policy.may(session, world["school_admin"], shared, action)
    assert action not in workflow.allowed_actions(session, world["school_admin"], shared)


def test_a_target_schools_admin_may_enrol_their_own_students_only(session, world, shared):
    w = world
    assert policy.may(session, w["school_admin"], shared, "enrol")
    added = enrolment.enrol_group(session, w["school_admin"], shared, school_id=w.school.id)
    assert added > 0
    from courses.errors import NotFound

    with pytest.raises(NotFound):
        enrolment.enrol_group(session, w["school_admin"], shared, school_id=w.school_b.id)
    enrolment.enrol_group(session, w["school_b_admin"], shared, school_id=w.school_b.id)
    seen_a = {u.org_id for u, *_ in enrolment.list_enrolled(session, w["school_admin"], shared)}
    seen_office = {u.org_id for u, *_ in enrolment.list_enrolled(session, w["office_admin"], shared)}
    assert seen_a == {w.school.id} and seen_office == {w.school.id, w.school_b.id}


def test_services_refuse_a_target_schools_admin(session, world, shared):
    w = world
    admin = w["school_admin"]
    with pytest.raises(Forbidden):
        workflow.start(session, admin, shared)
    with pytest.raises(Forbidden):
        workflow.assign_instructor(session, admin, shared, "office", w["instructor"].id)
    with pytest.raises(Forbidden):
        workflow.update_lesson(
            session,
            admin,
            shared,
            shared.lessons[0].id,
            title="x차시",
            starts_at=None,
            ends_at=None,
            description="",
        )
    with pytest.raises(Forbidden):
        workflow.add_material(session, admin, shared, title="자료", url="https://example.org")
    with pytest.raises(Forbidden):
        live.live_role(session, admin, shared)
    workflow.start(session, w["office_admin"], shared)
    with pytest.raises(Forbidden):
        workflow.complete(session, admin, shared)
    assert shared.status == CourseStatus.running


def test_the_instructor_and_the_office_run_the_shared_course(session, world, shared):
    w = world
    assert live.live_role(session, w["instructor"], shared) == "teacher"
    assert live.live_role(session, w["office_admin"], shared) == "admin"
    from courses import enrolment

    enrolment.enrol_students(session, w["office_admin"], shared, [w["student"].id, w["student_b"].id])
    workflow.start(session, w["instructor"], shared)
    workflow.complete(session, w["office_admin"], shared)
    with pytest.raises(Forbidden):  # the office runs it, but each school confirms its own students
        workflow.confirm_completion(session, w["office_admin"], shared)
    workflow.confirm_completion(session, w["school_admin"], shared)
    assert shared.status == CourseStatus.completed  # 가온초 has not confirmed yet
    workflow.confirm_completion(session, w["school_b_admin"], shared)
    assert shared.status == CourseStatus.confirmed


def test_a_schools_own_class_course_is_still_run_by_its_school(session, world):
    w = world
    c = workflow.submit_request(session, w["teacher"], course_input(w))
    assert workflow.allowed_actions(session, w["school_admin"], c) >= {"approve", "reject"}
    workflow.approve(session, w["school_admin"], c)
    workflow.start(session, w["school_admin"], c)
    assert live.live_role(session, w["school_admin"], c) == "admin"
    assert live.live_role(session, w["teacher"], c) == "teacher"
    assert c.status == CourseStatus.running


def test_who_manages_whose_account_agrees_in_python_and_sql(session, demo):
    from courses.policy import manageable_clause, may_manage_account

    users, _courses = demo
    admins = [u for u in users if u.role.value in ("office_admin", "school_admin")]
    assert admins
    for admin in admins:
        listed = set(session.scalars(select(User.id).where(manageable_clause(admin))))
        assert {u.id for u in users if u.id != admin.id and may_manage_account(admin, u)} == listed - {
            admin.id
        }
