"""Completion in the app: each role's view of a course, the school's confirmation, transcripts, dashboards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from courses import enrolment, workflow
from courses.models import AccessLog, CompletionConfirmation, Course, CourseStatus, User
from tests.completion_support import activity_course, attend, watch
from tests.export_support import read_csv, read_xlsx


@pytest.fixture()
def course_id(db_session, web_world) -> int:  # type: ignore[no-untyped-def]
    course, parts = activity_course(db_session, web_world)
    watch(db_session, web_world["student"], parts["recorded"], 100)
    attend(db_session, web_world["student"], parts["live"], 40)
    db_session.commit()
    return course.id


def _finish(db_session, web_world, course_id: int) -> None:  # type: ignore[no-untyped-def]
    course = db_session.get(Course, course_id)
    workflow.complete(db_session, db_session.get(User, web_world["teacher"].id), course)
    db_session.commit()


def _post(client, url: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf(), **data})


def test_a_student_sees_their_own_progress_and_nothing_internal(login, web_world, course_id) -> None:
    page = login(web_world["student"]).get(f"/courses/{course_id}").get_data(as_text=True)
    assert "내 학습" in page and "2 / 3 차시 이수" in page and "실시간 수업 1개 남음" in page
    assert "처리 이력" not in page and "요청자" not in page and "수강생 관리" not in page
    assert "다음 차시:</strong> 4. 4차시" in page  # what is left comes first: the live lesson to come
    assert page.index("내 학습") < page.index("차시와 일정")


def test_a_parent_sees_their_childs_progress_without_join_buttons(login, web_world, course_id) -> None:
    page = login(web_world["parent"]).get(f"/courses/{course_id}").get_data(as_text=True)
    assert "자녀의 학습" in page and web_world["student"].name in page and "2 / 3 차시 이수" in page
    assert "/live/" not in page and "처리 이력" not in page


def test_teachers_see_the_class_at_a_glance_and_export_it(login, web_world, course_id, db_session) -> None:
    t = login(web_world["teacher"])
    page = t.get(f"/courses/{course_id}/completion").get_data(as_text=True)
    assert page.count("cell-done") >= 2 and "뒤처진 학생" in page and 'data-chart="hist-data"' in page
    only_behind = t.get(f"/courses/{course_id}/completion?behind=1").get_data(as_text=True)
    assert web_world["student"].name not in only_behind.split("학생별")[-1]
    heading, header, rows = read_csv(t.get(f"/courses/{course_id}/completion?format=csv").data)
    assert heading[0] == "이수 현황" and "학교: 가람초" in heading and len(rows) == 5
    assert header[-4:] == ["이수한 차시", "필요한 차시", "이수", "인정 시수"]
    mine = next(r for r in rows if r[2] == web_world["student"].name)
    assert mine[3:7] == ["100.0", "100.0", "0.0", "0.0"] and mine[-4:-1] == ["2", "3", "미이수"]
    assert len(read_xlsx(t.get(f"/courses/{course_id}/completion?format=xlsx").data)[2]) == 5
    logged = db_session.scalars(select(AccessLog.action).where(AccessLog.subject_id == course_id)).all()
    assert {a.value for a in logged} >= {"completion_viewed", "completion_exported"}
    assert login(web_world["student"]).get(f"/courses/{course_id}/completion").status_code == 403
    assert login(web_world["teacher_b"]).get(f"/courses/{course_id}/completion").status_code == 404


def test_the_school_confirms_once_with_a_look_first_and_can_withdraw_with_a_reason(
    login, web_world, course_id, db_session
) -> None:
    _finish(db_session, web_world, course_id)
    admin = login(web_world["school_admin"])
    page = admin.get(f"/courses/{course_id}/completion/confirm").get_data(as_text=True)
    assert "4차시 「4차시」는 열리지 않았습니다" in page and "활동이 전혀 없는 학생 4명" in page
    assert "5명 이수 확인" in page and "위 결과를 확인했고" in page
    url = f"/courses/{course_id}/completion/confirm"
    no_tick = _post(admin, url, expected="5")
    assert no_tick.status_code == 302 and db_session.scalar(select(CompletionConfirmation)) is None
    stale = _post(admin, url, expected="4", agree="on")
    assert stale.status_code == 302 and db_session.scalar(select(CompletionConfirmation)) is None
    assert _post(login(web_world["teacher"]), url, expected="5", agree="on").status_code == 403
    assert _post(login(web_world["school_b_admin"]), url, expected="5", agree="on").status_code == 404
    done = _post(admin, url, expected="5", agree="on")
    assert done.status_code == 302
    conf = db_session.scalar(select(CompletionConfirmation))
    assert (conf.students, conf.completed, conf.hours_granted) == (5, 1, 4)
    assert db_session.get(Course, course_id).status == CourseStatus.confirmed
    twice = _post(admin, url, expected="5", agree="on")
    assert twice.status_code == 302 and len(db_session.scalars(select(CompletionConfirmation)).all()) == 1
    page = admin.get(url).get_data(as_text=True)
    assert "이수 확인 완료" in page and "이 기록은 잠겨 있습니다" in page
    short = _post(admin, f"/courses/{course_id}/completion/revoke", reason="응")
    assert short.status_code == 302 and db_session.get(CompletionConfirmation, conf.id).revoked_at is None
    _post(admin, f"/courses/{course_id}/completion/revoke", reason="출석 누락 정정")
    db_session.expire_all()
    assert db_session.get(CompletionConfirmation, conf.id).revoke_reason == "출석 누락 정정"
    assert db_session.get(Course, course_id).status == CourseStatus.completed
    history = admin.get(url).get_data(as_text=True)
    assert "확인 이력" in history and "출석 누락 정정" in history


def test_the_transcript_is_for_the_student_their_family_and_school(
    login, web_world, course_id, db_session
) -> None:
    _finish(db_session, web_world, course_id)
    _post(
        login(web_world["school_admin"]), f"/courses/{course_id}/completion/confirm", expected="5", agree="on"
    )
    sid = web_world["student"].id
    for who in ("student", "parent", "teacher", "school_admin", "office_admin"):
        page = login(web_world[who]).get(f"/students/{sid}/transcript")
        assert page.status_code == 200, who
        html = page.get_data(as_text=True)
        assert "4시수" in html and "생활 안전 교실" in html and "print.css" in html
    for who in ("student2", "teacher_b", "school_b_admin", "other_office_admin", "instructor"):
        assert login(web_world[who]).get(f"/students/{sid}/transcript").status_code == 404, who
    other_child = web_world["student2"].id  # a parent reads their own child only
    assert login(web_world["parent"]).get(f"/students/{other_child}/transcript").status_code == 404
    heading, header, rows = read_csv(
        login(web_world["parent"]).get(f"/students/{sid}/transcript?format=csv").data
    )
    assert heading[0] == "범교과 학습 이수 기록" and f"학생: {web_world['student'].name}" in heading
    assert header[:3] == ["학년도", "주제", "강좌"] and rows[0][5] == "4"
    parent_page = login(web_world["parent"]).get(f"/courses/{course_id}").get_data(as_text=True)
    assert "이수 확인 · 4시수" in parent_page


def test_dashboards_by_school_and_class(login, web_world, course_id, db_session) -> None:
    office = login(web_world["office_admin"])
    page = office.get("/reports/completion").get_data(as_text=True)
    assert "가람초" in page and 'data-chart="rate-data"' in page and "뒤처진 학생" in page
    heading, header, rows = read_csv(office.get("/reports/completion?format=csv").data)
    assert heading[0] == "이수 현황 통계" and header[0] == "학교"
    school = login(web_world["school_admin"]).get("/reports/completion?format=xlsx")
    heading, header, rows = read_xlsx(school.data)
    assert header[0] == "학급" and rows[0][0] == "5학년 1반"
    assert login(web_world["student"]).get("/reports/completion").status_code == 403


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"watch_pct": "49", "attend_pct": "85"}, "녹화 강의 시청 기준"),
        ({"watch_pct": "90", "attend_pct": "101"}, "실시간 수업 출석 기준"),
        ({"watch_pct": "abc", "attend_pct": "85"}, "watch_pct"),
        ({"watch_pct": "9" * 40, "attend_pct": "85"}, "watch_pct"),
        ({"watch_pct": "90", "attend_pct": "85", "hours-first": "21"}, "차시 시수"),
        ({"watch_pct": "90", "attend_pct": "85", "hours-first": "-3"}, "차시 시수"),
    ],
)
def test_bad_completion_rules_are_refused_with_the_field_named(
    login, web_world, course_id, db_session, form, field
):  # type: ignore[no-untyped-def]
    course = db_session.get(Course, course_id)
    data = {f"hours-{lesson.id}": "2" for lesson in course.lessons}
    data.update({f"required-{lesson.id}": "on" for lesson in course.lessons})
    first = course.lessons[0].id
    if "hours-first" in form:
        data[f"hours-{first}"] = form.pop("hours-first")
    data.update(form)
    t = login(web_world["teacher"])
    r = _post(t, f"/courses/{course_id}/completion/rules", **data)
    assert r.status_code == 302
    page = t.get(r.headers["Location"]).get_data(as_text=True)
    assert "flash error" in page or 'class="flash' in page
    db_session.expire_all()
    c = db_session.get(Course, course_id)
    assert (c.watch_threshold_pct, c.completion_threshold_pct) == (90, 85) and c.lessons[0].credit_hours == 2


@pytest.mark.parametrize(
    "query", ["class_id=99999999999999999999", "class_id=-1", "behind=yes", "format=pdf"]
)
def test_odd_queries_never_break_the_matrix(login, web_world, course_id, query) -> None:
    r = login(web_world["teacher"]).get(f"/courses/{course_id}/completion?{query}")
    assert r.status_code in (200, 400)


def test_a_shared_course_is_confirmed_by_each_school(login, web_world, db_session) -> None:
    w = web_world
    office = db_session.get(User, w["office_admin"].id)
    from tests.factories import course_input

    course = workflow.submit_request(
        db_session, office, course_input(w, level="office", instructor_id=w["instructor"].id)
    )
    workflow.approve(db_session, office, course)
    enrolment.enrol_students(db_session, office, course, [w["student"].id, w["student_b"].id])
    workflow.start(db_session, office, course)
    workflow.complete(db_session, office, course)
    db_session.commit()
    a = login(w["school_admin"])
    page = a.get(f"/courses/{course.id}/completion/confirm").get_data(as_text=True)
    assert "1명 이수 확인" in page and w["student_b"].name not in page  # only its own student
    _post(a, f"/courses/{course.id}/completion/confirm", expected="1", agree="on")
    db_session.expire_all()
    assert db_session.get(Course, course.id).status == CourseStatus.completed
    _post(login(w["school_b_admin"]), f"/courses/{course.id}/completion/confirm", expected="1", agree="on")
    db_session.expire_all()
    assert db_session.get(Course, course.id).status == CourseStatus.confirmed
    assert (
        _post(
            login(w["office_admin"]), f"/courses/{course.id}/completion/confirm", expected="1", agree="on"
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    "query",
    [
        "school_id=99999999999999999999",
        "grade=99",
        "theme_id=-5",
        "school_year=abc",
        "class_id=2147483648",
        "format=doc",
    ],
)
def test_odd_dashboard_queries_are_answered_not_broken(login, web_world, course_id, query) -> None:
    r = login(web_world["office_admin"]).get(f"/reports/completion?{query}")
    assert r.status_code in (200, 400)


def test_finishing_a_course_warns_of_lessons_never_held_and_says_what_was_done(
    login, web_world, course_id
) -> None:
    t = login(web_world["teacher"])
    page = t.get(f"/courses/{course_id}").get_data(as_text=True)
    assert "아직 열리지 않은 차시가 있습니다: 4. 4차시." in page and "운영 완료 확인" in page
    r = _post(t, f"/courses/{course_id}/complete")
    assert "운영 완료로 처리했습니다. 이제 학교가 이수를 확인합니다." in t.get(
        r.headers["Location"]
    ).get_data(as_text=True)
