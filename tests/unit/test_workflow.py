"""Course request workflow, tested on the domain services alone (no Flask)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from courses import enrolment, workflow
from courses.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from courses.models import CourseEvent, CourseLevel, CourseStatus, Notification
from courses.policy import get_course
from courses.workflow import TargetInput
from tests.factories import course_input


def test_teacher_requests_class_course_and_school_admin_is_notified(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    assert course.level == CourseLevel.class_
    assert course.status == CourseStatus.submitted
    assert course.school_id == world.school.id
    assert [(t.school_id, t.class_id) for t in course.targets] == [(world.school.id, world.cls.id)]
    assert [lesson.title for lesson in course.lessons] == ["1차시", "2차시", "3차시", "4차시"]
    notified = set(session.scalars(select(Notification.user_id)))
    assert notified == {world["school_admin"].id}


def test_class_course_needs_a_class_the_teacher_teaches(session, world):
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world, class_id=world.cls2.id))
    assert "class_id" in err.value.errors
    with pytest.raises(ValidationError):
        workflow.submit_request(session, world["teacher"], course_input(world, class_id=world.foreign_cls.id))


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("title", {"title": "x"}),
        ("title", {"title": "가" * 121}),
        ("goals", {"goals": "  "}),
        ("hours", {"hours": 0}),
        ("hours", {"hours": -3}),
        ("hours", {"hours": 2, "lesson_count": 4}),
        ("lesson_count", {"lesson_count": 0}),
        ("start_date", {"start_date": date.today() - timedelta(days=1)}),
        ("end_date", {"end_date": date.today()}),
        ("theme_id", {"theme_id": 999999}),
        ("delivery", {"delivery": "carrier-pigeon"}),
        ("instructor_mode", {"instructor_mode": "robot"}),
        ("recording_policy", {"recording_policy": "always"}),
        ("completion_threshold_pct", {"completion_threshold_pct": 101}),
    ],
)
def test_bad_values_are_refused_with_the_field_named(session, world, field, overrides):
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world, **overrides))
    assert field in err.value.errors


def test_levels_are_tied_to_roles(session, world):
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["teacher"], course_input(world, level="office"))
    assert "level" in err.value.errors
    with pytest.raises(ValidationError):
        workflow.submit_request(session, world["teacher"], course_input(world, level="school"))


def test_office_targets_must_be_inside_the_office(session, world):
    bad = course_input(world, level="office", targets=[TargetInput(world.foreign_school.id)])
    with pytest.raises(ValidationError) as err:
        workflow.submit_request(session, world["office_admin"], bad)
    assert "targets" in err.value.errors


def test_school_targets_must_be_inside_the_school(session, world):
    bad = course_input(world, level="school", targets=[TargetInput(world.school.id, class_id=world.cls_b.id)])
    with pytest.raises(ValidationError):
        workflow.submit_request(session, world["school_admin"], bad)
    ok = workflow.submit_request(
        session,
        world["school_admin"],
        course_input(world, level="school", targets=[TargetInput(world.school.id, grade=5)]),
    )
    assert [(t.grade, t.class_id) for t in ok.targets] == [(5, None)]


def test_approval_flow_with_history_and_notifications(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    with pytest.raises(Forbidden):  # the office does not approve class-level requests
        workflow.approve(session, world["office_admin"], course)
    with pytest.raises(Forbidden):  # another school's admin neither
        workflow.approve(session, world["school_b_admin"], course)
    workflow.approve(session, world["school_admin"], course, "좋습니다")
    enrolment.enrol_students(session, world["teacher"], course, [world["student"].id])
    workflow.start(session, world["teacher"], course)
    workflow.complete(session, world["teacher"], course)
    workflow.confirm_completion(session, world["school_admin"], course)
    events = list(
        session.scalars(
            select(CourseEvent).where(CourseEvent.course_id == course.id).order_by(CourseEvent.id)
        )
    )
    assert [(e.from_value, e.to_value, e.actor_id) for e in events] == [
        (None, "submitted", world["teacher"].id),
        ("submitted", "approved", world["school_admin"].id),
        (None, "+1", world["teacher"].id),  # one student enrolled
        ("approved", "running", world["teacher"].id),
        ("running", "completed", world["teacher"].id),
        (None, "confirmed", world["school_admin"].id),  # the school's confirmation (1 student)
        ("completed", "confirmed", world["school_admin"].id),  # … which was the last school to confirm
    ]
    titles = list(
        session.scalars(select(Notification.title).where(Notification.user_id == world["teacher"].id))
    )
    assert "강좌 요청이 승인되었습니다" in titles


def test_reject_needs_a_reason_and_requester_can_resubmit(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    with pytest.raises(ValidationError) as err:
        workflow.reject(session, world["school_admin"], course, "   ")
    assert "reason" in err.value.errors
    workflow.reject(session, world["school_admin"], course, "일정이 겹칩니다")
    assert course.status == CourseStatus.rejected and course.decision_reason == "일정이 겹칩니다"
    workflow.resubmit(session, world["teacher"], course, course_input(world, title="생활 안전 교실 (수정)"))
    assert course.status == CourseStatus.submitted and course.title == "생활 안전 교실 (수정)"


@pytest.mark.parametrize(
    ("do", "message_part"),
    [
        (lambda s, w, c: workflow.start(s, w["teacher"], c), "승인 대기"),
        (lambda s, w, c: workflow.complete(s, w["teacher"], c), "승인 대기"),
        (lambda s, w, c: workflow.confirm_completion(s, w["school_admin"], c), "승인 대기"),
    ],
)
def test_invalid_transitions_are_refused_clearly(session, world, do, message_part):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    with pytest.raises(InvalidTransition) as err:
        do(session, world, course)
    assert message_part in str(err.value)
    assert course.status == CourseStatus.submitted


def test_withdraw_only_by_requester_and_only_while_waiting(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    with pytest.raises(Forbidden):
        workflow.withdraw(session, world["teacher2"], course)
    workflow.withdraw(session, world["teacher"], course)
    with pytest.raises(InvalidTransition):
        workflow.approve(session, world["school_admin"], course)


def test_office_request_is_approved_by_the_office(session, world):
    course = workflow.submit_request(session, world["office_admin"], course_input(world, level="office"))
    with pytest.raises(Forbidden):
        workflow.approve(session, world["school_admin"], course)
    with pytest.raises(Forbidden):
        workflow.approve(session, world["other_office_admin"], course)
    workflow.approve(session, world["office_admin"], course)
    assert course.status == CourseStatus.approved


def test_instructor_must_come_from_the_pool_or_the_school(session, world):
    with pytest.raises(ValidationError):  # external instructor offered as office-provided
        workflow.submit_request(
            session, world["teacher"], course_input(world, instructor_id=world["external"].id)
        )
    with pytest.raises(ValidationError):  # a teacher from another school as school-designated
        workflow.submit_request(
            session,
            world["teacher"],
            course_input(world, instructor_mode="school", instructor_id=world["teacher_b"].id),
        )
    course = workflow.submit_request(
        session, world["teacher"], course_input(world, instructor_id=world["instructor"].id)
    )
    assert course.instructor_id == world["instructor"].id
    homeroom = workflow.submit_request(
        session, world["teacher"], course_input(world, instructor_mode="homeroom")
    )
    assert homeroom.instructor_id == world["teacher"].id
    workflow.approve(session, world["school_admin"], homeroom)
    workflow.assign_instructor(session, world["school_admin"], homeroom, "external", world["external"].id)
    assert homeroom.instructor_id == world["external"].id


def test_courses_outside_scope_are_not_found(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    for key in (
        "school_b_admin",
        "foreign_admin",
        "other_office_admin",
        "teacher_b",
        "foreign_teacher",
        "student",
        "foreign_student",
        "parent",
        "instructor",
    ):
        with pytest.raises(NotFound):
            get_course(session, world[key], course.id)
    for key in ("teacher", "school_admin", "office_admin"):
        assert get_course(session, world[key], course.id).id == course.id


def test_every_action_tells_the_person_what_was_done_in_plain_korean() -> None:
    assert set(workflow.DONE_MESSAGES) == set(workflow.ACTIONS)
    assert all(m.endswith("다.") for m in workflow.DONE_MESSAGES.values())
