"""Course evaluation: the anonymous survey, its integrity rules, results with the 3-response floor, exports,
settings, and the office's comparison of courses and instructors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select

from courses import evaluation, workflow
from courses.db import utcnow
from courses.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from courses.models import (
    ClassMembership,
    Course,
    CourseStatus,
    MemberRole,
    ParentLink,
    Role,
    Survey,
    SurveyAnswer,
    SurveyParticipation,
    SurveyResponse,
    User,
)
from courses.policy import get_course
from tests.export_support import read_csv, read_xlsx
from tests.factories import make_user
from tests.live_support import live_course


def _students(session, world, cls=None) -> list[User]:  # type: ignore[no-untyped-def]
    cls = cls or world.cls
    return list(
        session.scalars(
            select(User)
            .join(ClassMembership, ClassMembership.user_id == User.id)
            .where(ClassMembership.class_id == cls.id, ClassMembership.role == MemberRole.student)
            .order_by(ClassMembership.number)
        )
    )


def _full(survey: Survey, rating: int = 4, note: str = "") -> dict[str, str]:
    form = {evaluation.item_field(i): str(rating) for i in survey.items if i.kind.value == "rating"}
    text_item = next(i for i in survey.items if i.kind.value == "text")
    form[evaluation.item_field(text_item)] = note
    return form


def _held_course(db_session, web_world):  # type: ignore[no-untyped-def]
    """A running class course whose every lesson has a time, the last one (lesson 1) begun half an hour ago."""
    course, live = live_course(db_session, web_world, starts_in=timedelta(minutes=-30))
    for k, lesson in enumerate(course.lessons[1:], start=1):
        lesson.starts_at = live.starts_at - timedelta(days=k)
        lesson.ends_at = lesson.starts_at + timedelta(minutes=40)
    db_session.flush()
    return course, live


@pytest.fixture()
def surveyed(db_session, web_world):  # type: ignore[no-untyped-def]
    """A running class course whose last lesson started half an hour ago: the survey is open."""
    course, live = _held_course(db_session, web_world)
    survey = evaluation.survey_for(db_session, web_world["teacher"], course)
    db_session.commit()
    return course, survey


def test_the_default_survey_opens_at_the_last_lesson_and_closes_after_the_end_date(db_session, surveyed):
    course, survey = surveyed
    assert [i.kind.value for i in survey.items] == ["rating"] * 5 + ["text"]
    assert survey.items[0].prompt == "강의 내용이 유익했다" and not survey.items[5].required
    assert survey.opens_at == course.lessons[0].starts_at
    assert survey.closes_at.astimezone(evaluation.SEOUL).date() == course.end_date + timedelta(days=15)
    assert survey.include_parents is False


def test_a_survey_waits_for_the_end_date_while_a_lesson_has_no_time(db_session, web_world):
    course, live = live_course(
        db_session, web_world, starts_in=timedelta(minutes=-30)
    )  # lessons 2-4 unscheduled
    survey = evaluation.survey_for(db_session, web_world["teacher"], course)
    assert survey.opens_at == evaluation._day_start(course.end_date)


def test_a_course_without_lesson_times_opens_its_survey_on_its_end_date(db_session, web_world):
    from tests.factories import course_input

    course = workflow.submit_request(db_session, web_world["teacher"], course_input(web_world))
    workflow.approve(db_session, web_world["school_admin"], course)
    survey = evaluation.survey_for(db_session, web_world["teacher"], course, open_days=3)
    assert survey.opens_at == evaluation._day_start(course.end_date)
    assert survey.closes_at == evaluation._day_start(course.end_date + timedelta(days=4))


def test_a_student_answers_once_anonymously_and_the_second_answer_is_refused(db_session, web_world, surveyed):
    course, survey = surveyed
    student = web_world["student"]
    now = utcnow()
    evaluation.answer(db_session, student, course, _full(survey, 5, "재미있었어요"), now)
    with pytest.raises(evaluation.AlreadyAnswered):
        evaluation.answer(db_session, student, course, _full(survey, 1, "다시"), now)
    responses = db_session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).all()
    assert len(responses) == 1
    [response] = responses
    assert {a.rating for a in response.answers if a.rating} == {5}  # the first answer stands
    assert {a.text for a in response.answers if a.text} == {"재미있었어요"}
    # Nothing in the response names the student: no user column, a date only, a random id.
    columns = {c.key for c in inspect(SurveyResponse).columns} | {
        c.key for c in inspect(SurveyAnswer).columns
    }
    assert not any("user" in c or c.endswith("_at") for c in columns)
    assert len(response.id) == 32 and not response.id.isdigit()
    assert db_session.scalar(select(func.count()).select_from(SurveyParticipation)) == 1
    st = evaluation.state(db_session, student, course, now)
    assert st is not None and st.answered and not st.may_answer


def test_the_database_refuses_a_second_participation(db_session, web_world, surveyed):
    from sqlalchemy.exc import IntegrityError

    course, survey = surveyed
    db_session.add(SurveyParticipation(survey_id=survey.id, user_id=web_world["student"].id))
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(SurveyParticipation(survey_id=survey.id, user_id=web_world["student"].id))
        db_session.flush()


def test_answers_before_opening_or_after_closing_are_refused(db_session, web_world, surveyed):
    course, survey = surveyed
    student = web_world["student"]
    with pytest.raises(InvalidTransition):
        evaluation.answer(db_session, student, course, _full(survey), survey.opens_at - timedelta(seconds=1))
    with pytest.raises(InvalidTransition):
        evaluation.answer(db_session, student, course, _full(survey), survey.closes_at)
    assert evaluation.state(db_session, student, course, survey.closes_at).phase == "closed"  # type: ignore[union-attr]
    assert db_session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_a_course_that_is_not_running_yet_takes_no_answers(db_session, web_world):
    from courses import enrolment
    from tests.factories import course_input

    course = workflow.submit_request(db_session, web_world["teacher"], course_input(web_world))
    workflow.approve(db_session, web_world["school_admin"], course)
    enrolment.enrol_group(
        db_session, web_world["teacher"], course, school_id=web_world.school.id, class_id=web_world.cls.id
    )
    with pytest.raises(InvalidTransition):
        evaluation.respondent_state(db_session, web_world["student"], course, utcnow())
    assert evaluation.state(db_session, web_world["student"], course, utcnow()) is None


def test_a_parent_answers_only_when_parents_are_included(db_session, web_world, surveyed):
    course, survey = surveyed
    parent = web_world["parent"]
    now = utcnow()
    assert evaluation.state(db_session, parent, course, now) is None
    with pytest.raises(Forbidden):
        evaluation.answer(db_session, parent, course, _full(survey), now)
    evaluation.update_settings(db_session, web_world["teacher"], course, survey.closes_at, True)
    evaluation.answer(db_session, parent, course, _full(survey), now)
    [role] = db_session.scalars(select(SurveyResponse.role)).all()
    assert role.value == "parent"
    res = evaluation.results(db_session, web_world["teacher"], course)
    assert res.eligible == 5 + 1 and res.by_role == {"parent": 1}
    # Parents have answered: they can no longer be switched off (their answers would count for no one).
    with pytest.raises(ValidationError) as err:
        evaluation.update_settings(db_session, web_world["teacher"], course, survey.closes_at, False)
    assert "include_parents" in err.value.errors


def test_a_student_not_enrolled_gets_not_found(db_session, web_world, surveyed):
    course, _survey = surveyed
    for name in ("student2", "student_b", "foreign_student"):
        with pytest.raises(NotFound):
            get_course(db_session, web_world[name], course.id)


def test_results_hide_items_under_three_responses_then_show_counts_means_and_texts(
    db_session, web_world, surveyed
):
    course, survey = surveyed
    students = _students(db_session, web_world)
    now = utcnow()
    evaluation.answer(db_session, students[0], course, _full(survey, 5, "나"), now)
    evaluation.answer(db_session, students[1], course, _full(survey, 4, ""), now)
    few = evaluation.results(db_session, web_world["teacher"], course)
    assert few.responses == 2 and not few.enough and few.ratings == [] and few.texts == []
    assert few.rate == 40.0  # 2 of 5 enrolled students
    evaluation.answer(db_session, students[2], course, _full(survey, 2, "가"), now)
    res = evaluation.results(db_session, web_world["teacher"], course)
    assert res.enough and res.responses == 3 and res.eligible == 5 and res.rate == 60.0
    first = res.ratings[0]
    assert first.counts == [0, 1, 0, 1, 1] and first.answered == 3 and first.mean == round(11 / 3, 2)
    [(item, texts)] = res.texts
    assert item.kind.value == "text" and texts == ["가", "나"]  # sorted by text, not by who or when


def test_bad_answers_are_field_errors(db_session, web_world, surveyed):
    course, survey = surveyed
    rating = survey.items[0]
    text_item = survey.items[5]
    for bad in ("0", "6", "3.5", "x", " ", "٣"):
        form = _full(survey)
        form[evaluation.item_field(rating)] = bad
        with pytest.raises(ValidationError) as err:
            evaluation.answer(db_session, web_world["student"], course, form, utcnow())
        assert evaluation.item_field(rating) in err.value.errors
    form = _full(survey, note="가" * 1001)
    with pytest.raises(ValidationError) as err:
        evaluation.answer(db_session, web_world["student"], course, form, utcnow())
    assert evaluation.item_field(text_item) in err.value.errors
    assert db_session.scalar(select(func.count()).select_from(SurveyParticipation)) == 0


def test_results_are_for_runners_and_targets_only(db_session, web_world, surveyed):
    course, _survey = surveyed
    for name in ("teacher", "instructor", "school_admin"):
        evaluation.results(db_session, web_world[name], course)
    for name in ("student", "parent"):
        with pytest.raises(Forbidden):
            evaluation.results(db_session, web_world[name], course)
    for name in ("school_b_admin", "teacher_b", "other_office_admin", "foreign_admin", "teacher2"):
        with pytest.raises(NotFound):
            get_course(db_session, web_world[name], course.id)


def test_settings_are_for_runners_and_validated(db_session, web_world, surveyed):
    course, survey = surveyed
    with pytest.raises(Forbidden):
        evaluation.update_settings(db_session, web_world["student"], course, survey.closes_at, False)
    with pytest.raises(ValidationError):
        evaluation.update_settings(db_session, web_world["teacher"], course, survey.opens_at, False)
    with pytest.raises(ValidationError):
        evaluation.update_settings(db_session, web_world["teacher"], course, None, False)
    later = survey.closes_at + timedelta(days=10)
    evaluation.update_settings(db_session, web_world["teacher"], course, later, False)
    assert survey.closes_at == later


# -- pages ----------------------------------------------------------------------------------------------


def test_the_answer_page_takes_one_answer_and_the_card_shows_it(app, login, db_session, web_world, surveyed):
    course, survey = surveyed
    s = login(web_world["student"])
    page = s.get(f"/courses/{course.id}/survey")
    assert page.status_code == 200 and "강의 내용이 유익했다" in page.get_data(as_text=True)
    data = {**_full(survey, 3, "좋아요"), "csrf_token": s.csrf()}
    r = s.post(f"/courses/{course.id}/survey", data=data)
    assert r.status_code == 302
    again = s.post(f"/courses/{course.id}/survey", data={**_full(survey, 1), "csrf_token": s.csrf()})
    assert again.status_code == 409
    assert db_session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
    with app.test_request_context():
        from flask import render_template_string

        st = evaluation.state(
            db_session,
            db_session.get(User, web_world["student"].id),
            db_session.get(Course, course.id),
            utcnow(),
        )
        html = render_template_string(
            '{% include "evaluation/_course_card.html" %}',
            survey_state=st,
            course=db_session.get(Course, course.id),
        )
    assert "설문에 답했습니다" in html


@pytest.mark.parametrize(
    "field, value",
    [("rating", ""), ("rating", "9"), ("rating", "-1"), ("rating", "1e0"), ("text", "x" * 1001)],
)
def test_bad_form_input_is_a_422_not_a_500(login, db_session, web_world, surveyed, field, value):
    course, survey = surveyed
    item = survey.items[0] if field == "rating" else survey.items[5]
    s = login(web_world["student"])
    data = {**_full(survey), evaluation.item_field(item): value, "csrf_token": s.csrf()}
    r = s.post(f"/courses/{course.id}/survey", data=data)
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(SurveyParticipation)) == 0


def test_the_survey_pages_answer_not_found_or_forbidden_by_policy(login, web_world, surveyed):
    course, _survey = surveyed
    assert login(web_world["student2"]).get(f"/courses/{course.id}/survey").status_code == 404
    assert login(web_world["foreign_admin"]).get(f"/courses/{course.id}/survey/results").status_code == 404
    assert login(web_world["school_b_admin"]).get(f"/courses/{course.id}/survey/results").status_code == 404
    assert login(web_world["student"]).get(f"/courses/{course.id}/survey/results").status_code == 403
    assert login(web_world["parent"]).get(f"/courses/{course.id}/survey").status_code == 403
    assert login(web_world["teacher"]).get(f"/courses/{course.id}/survey").status_code == 403
    assert login(web_world["student"]).get(f"/courses/{course.id}/survey/settings").status_code == 403


def test_results_page_charts_and_exports_hold_no_identities(login, db_session, web_world, surveyed):
    course, survey = surveyed
    students = _students(db_session, web_world)
    for i, st in enumerate(students[:3]):
        evaluation.answer(db_session, st, course, _full(survey, 3 + i % 3, f"의견 {i}"), utcnow())
    db_session.commit()
    t = login(web_world["teacher"])
    page = t.get(f"/courses/{course.id}/survey/results").get_data(as_text=True)
    assert 'class="survey-chart"' in page and "survey-chart-4" in page and "의견 0" in page
    assert "응답률 60.0%" in page
    names = [s.name for s in students]
    assert not any(n in page for n in names)
    heading, header, rows = read_csv(t.get(f"/courses/{course.id}/survey/results?format=csv").data)
    assert heading[0] == "강좌 만족도 조사 결과" and any("3/5" in h for h in heading)
    assert header == ["문항", "1점", "2점", "3점", "4점", "5점", "응답 수", "평균"]
    assert rows[0] == ["강의 내용이 유익했다", "0", "0", "1", "1", "1", "3", "4.0"]
    _h, _hd, xrows = read_xlsx(t.get(f"/courses/{course.id}/survey/results?format=xlsx").data)
    assert len(xrows) == 5 and xrows[0][7] == 4.0
    flat = " ".join(str(v) for row in rows for v in row) + " ".join(heading)
    assert not any(n in flat for n in names)
    assert t.get(f"/courses/{course.id}/survey/results?format=pdf").status_code == 400


def test_settings_page_saves_and_refuses_bad_dates(login, db_session, web_world, surveyed):
    course, survey = surveyed
    t = login(web_world["teacher"])
    assert t.get(f"/courses/{course.id}/survey/settings").status_code == 200
    for bad in ("", "2026-13-01T10:00", "nope", "1999-01-01T00:00"):
        r = t.post(f"/courses/{course.id}/survey/settings", data={"closes_at": bad, "csrf_token": t.csrf()})
        assert r.status_code == 422, bad
    target = (course.end_date + timedelta(days=20)).isoformat() + "T18:00"
    r = t.post(
        f"/courses/{course.id}/survey/settings",
        data={"closes_at": target, "include_parents": "on", "csrf_token": t.csrf()},
    )
    assert r.status_code == 302
    saved = db_session.get(Survey, survey.id)
    assert saved.include_parents and saved.closes_at.astimezone(evaluation.SEOUL).hour == 18


def test_the_office_compares_courses_and_instructors(login, db_session, web_world, surveyed):
    course, survey = surveyed
    for st in _students(db_session, web_world)[:3]:
        evaluation.answer(db_session, st, course, _full(survey, 4), utcnow())
    # A second course by the same instructor, in class 5-2, with one response (under the floor).
    other, _live = _held_course(db_session, web_world)
    db_session.get(Course, other.id)
    other_survey = evaluation.survey_for(db_session, web_world["teacher"], other)
    evaluation.answer(db_session, web_world["student"], other, _full(other_survey, 2), utcnow())
    by_course, by_instructor = evaluation.compare(db_session, web_world["office_admin"])
    rows = {r.key: r for r in by_course}
    assert rows[course.id].responses == 3 and rows[course.id].eligible == 5 and rows[course.id].mean == 4.0
    assert rows[course.id].rate == 60.0 and rows[course.id].instructor == "instructor"
    assert rows[other.id].responses == 1 and rows[other.id].mean is None  # too few to show
    [inst] = by_instructor
    assert inst.key == web_world["instructor"].id and inst.courses == 2 and inst.responses == 4
    # The instructor's mean leaves out the course under the floor (its one answer could be worked out).
    assert inst.eligible == 10 and inst.mean == 4.0
    assert evaluation.compare(db_session, web_world["other_office_admin"]) == ([], [])
    with pytest.raises(Forbidden):
        evaluation.compare(db_session, web_world["school_admin"])
    db_session.commit()
    o = login(web_world["office_admin"])
    page = o.get("/evaluation/compare")
    assert page.status_code == 200 and "chart-data" in page.get_data(as_text=True)
    _h, header, crow = read_csv(o.get("/evaluation/compare?format=csv&by=course").data)
    assert header[0] == "강좌" and len(crow) == 2
    _h, header, irow = read_xlsx(o.get("/evaluation/compare?format=xlsx&by=instructor").data)
    assert header[0] == "강사" and irow[0][1] == 2
    assert login(web_world["school_admin"]).get("/evaluation/compare").status_code == 403
    assert "강좌 평가 비교" in page.get_data(as_text=True)


def test_only_office_admins_see_the_comparison_link(login, web_world):
    assert "/evaluation/compare" in login(web_world["office_admin"]).get("/").get_data(as_text=True)
    assert "/evaluation/compare" not in login(web_world["teacher"]).get("/").get_data(as_text=True)


def test_a_completed_course_still_takes_answers_until_the_survey_closes(db_session, web_world, surveyed):
    course, survey = surveyed
    workflow.complete(db_session, web_world["teacher"], course)
    assert course.status == CourseStatus.completed
    evaluation.answer(db_session, web_world["student"], course, _full(survey), utcnow())
    assert db_session.scalar(select(func.count()).select_from(SurveyResponse)) == 1


def test_eligible_counts_each_parent_once(db_session, web_world, surveyed):
    course, survey = surveyed
    students = _students(db_session, web_world)
    # The same parent for two enrolled children, and a second parent for one child.
    db_session.add(ParentLink(parent_id=web_world["parent"].id, child_id=students[1].id))
    other = make_user(db_session, "parent2", Role.parent, web_world.school, web_world.office)
    db_session.add(ParentLink(parent_id=other.id, child_id=students[1].id))
    db_session.flush()
    assert evaluation.eligible_count(db_session, course, True) == 5 + 2
    assert evaluation.eligible_count(db_session, course, False) == 5
