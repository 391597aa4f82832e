"""Enrolment by school / grade / class in one action, and one by one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from courses import enrolment, workflow
from courses.errors import Forbidden, InvalidTransition, NotFound
from courses.models import CourseEvent, Enrolment, EventKind
from courses.workflow import TargetInput
from tests.factories import course_input


def _approved(session, world, level="class", **kw):
    requester = {"class": world["teacher"], "school": world["school_admin"], "office": world["office_admin"]}[
        level
    ]
    course = workflow.submit_request(session, requester, course_input(world, level=level, **kw))
    approver = world["school_admin"] if level == "class" else world["office_admin"]
    workflow.approve(session, approver, course)
    return course


def _enrolled(session, course):
    return set(session.scalars(select(Enrolment.student_id).where(Enrolment.course_id == course.id)))


def test_teacher_enrols_their_class_in_one_action(session, world):
    course = _approved(session, world)
    added = enrolment.enrol_group(
        session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id
    )
    assert added == 5
    assert world["student"].id in _enrolled(session, course)
    # Again: nothing new, nothing duplicated.
    assert (
        enrolment.enrol_group(
            session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id
        )
        == 0
    )
    assert enrolment.enrolment_count(session, course) == 5
    ev = session.scalars(select(CourseEvent).where(CourseEvent.kind == EventKind.enrolment)).first()
    assert ev is not None and ev.to_value == "+5"


def test_group_enrolment_stays_inside_the_course_targets(session, world):
    course = _approved(session, world)  # targets 5학년 1반 only
    # The whole school is asked for, but only the targeted class is enrolled.
    assert enrolment.enrol_group(session, world["school_admin"], course, school_id=world.school.id) == 5
    assert world["student2"].id not in _enrolled(session, course)


def test_school_course_by_grade(session, world):
    course = _approved(session, world, level="school", targets=[TargetInput(world.school.id)])
    assert (
        enrolment.enrol_group(session, world["school_admin"], course, school_id=world.school.id, grade=5)
        == 10
    )
    assert (
        enrolment.enrol_group(session, world["school_admin"], course, school_id=world.school.id) == 5
    )  # grade 6


def test_office_course_each_school_enrols_its_own(session, world):
    course = _approved(session, world, level="office")
    with pytest.raises(NotFound):  # school B's admin cannot enrol school A's students
        enrolment.enrol_group(session, world["school_b_admin"], course, school_id=world.school.id)
    assert enrolment.enrol_group(session, world["school_b_admin"], course, school_id=world.school_b.id) == 5
    assert enrolment.enrol_group(session, world["office_admin"], course, school_id=world.school.id) == 15


def test_cross_office_and_non_target_students_are_refused(session, world):
    course = _approved(session, world)
    with pytest.raises(NotFound):
        enrolment.enrol_group(session, world["teacher"], course, school_id=world.foreign_school.id)
    with pytest.raises(NotFound):
        enrolment.enrol_students(session, world["teacher"], course, [world["foreign_student"].id])
    with pytest.raises(NotFound):  # same school, but not in the course's target class
        enrolment.enrol_students(session, world["teacher"], course, [world["student2"].id])
    assert _enrolled(session, course) == set()


def test_individual_add_and_remove(session, world):
    course = _approved(session, world)
    assert enrolment.enrol_students(session, world["teacher"], course, [world["student"].id]) == 1
    assert enrolment.enrol_students(session, world["teacher"], course, [world["student"].id]) == 0
    enrolment.unenrol(session, world["teacher"], course, world["student"].id)
    assert _enrolled(session, course) == set()
    with pytest.raises(NotFound):
        enrolment.unenrol(session, world["teacher"], course, world["student"].id)


def test_only_people_running_the_course_enrol(session, world):
    course = _approved(session, world)
    for key in ("teacher2", "student", "parent", "instructor"):
        with pytest.raises(Forbidden):
            enrolment.enrol_group(session, world[key], course, school_id=world.school.id)


def test_enrolment_needs_an_approved_or_running_course(session, world):
    course = workflow.submit_request(session, world["teacher"], course_input(world))
    with pytest.raises(InvalidTransition):
        enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id)


def test_student_sees_course_once_enrolled(session, world):
    from courses.home import student_home
    from courses.policy import get_course

    course = _approved(session, world)
    with pytest.raises(NotFound):
        get_course(session, world["student"], course.id)
    enrolment.enrol_group(session, world["teacher"], course, school_id=world.school.id, class_id=world.cls.id)
    assert get_course(session, world["student"], course.id).id == course.id
    assert get_course(session, world["parent"], course.id).id == course.id
    home = student_home(session, world["student"])
    assert [c.id for c in home["courses"]] == [course.id]
    assert home["continue"]["course"].id == course.id  # its first lesson is what comes next
