"""The course request form, course page, enrolment page, themes, instructors, notifications, reports."""

from __future__ import annotations

import html
from datetime import date, timedelta

from sqlalchemy import select

from courses.models import Course, CourseStatus, Enrolment, InstructorProfile, Notification, Theme
from tests.export_support import read_csv, read_xlsx


def _form(world, **over):
    start = date.today() + timedelta(days=10)
    data = {
        "level": "class",
        "theme_id": world.themes[0].id,
        "title": "교통 안전 교실",
        "goals": "안전하게 등하교한다.",
        "delivery": "live",
        "lesson_count": "2",
        "hours": "4",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=14)).isoformat(),
        "instructor_mode": "homeroom",
        "recording_policy": "none",
        "class_id": world.cls.id,
        "completion_threshold_pct": "85",
    }
    data.update(over)
    return data


def test_teacher_requests_course_through_the_form(login, web_world, db_session):
    c = login(web_world["teacher"])
    r = c.post("/courses/new", data={**_form(web_world), "csrf_token": c.csrf()})
    assert r.status_code == 302
    course = db_session.scalar(select(Course).where(Course.title == "교통 안전 교실"))
    assert course.status == CourseStatus.submitted and course.instructor_id == web_world["teacher"].id
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "승인 대기" in page and "처리 이력" in page
    admin = login(web_world["school_admin"])
    assert "교통 안전 교실" in admin.get("/").get_data(as_text=True)  # awaiting approval on their home
    assert "새 강좌 요청" in admin.get("/notifications").get_data(as_text=True)


def test_bad_values_are_shown_next_to_fields_and_input_is_kept(login, web_world, db_session):
    c = login(web_world["teacher"])
    start = date.today() + timedelta(days=10)
    bad = _form(
        web_world,
        title="",
        hours="0",
        end_date=(start - timedelta(days=1)).isoformat(),
        goals="내가 적은 목표",
    )
    r = c.post("/courses/new", data={**bad, "csrf_token": c.csrf()})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="title-error"' in page and 'id="hours-error"' in page and 'id="end_date-error"' in page
    assert "내가 적은 목표" in page  # nothing typed is lost
    assert db_session.scalar(select(Course).where(Course.goals == "내가 적은 목표")) is None


def test_type_errors_in_the_form(login, web_world):
    c = login(web_world["teacher"])
    r = c.post(
        "/courses/new", data={**_form(web_world, hours="열", start_date="2026-13-45"), "csrf_token": c.csrf()}
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "숫자를 입력하세요." in page and "날짜 형식" in page


def test_class_outside_scope_in_form(login, web_world):
    c = login(web_world["teacher"])
    r = c.post(
        "/courses/new", data={**_form(web_world, class_id=web_world.foreign_cls.id), "csrf_token": c.csrf()}
    )
    assert r.status_code == 422 and "담당 학급을 선택하세요." in r.get_data(as_text=True)


def _submitted(login, world, db_session):
    c = login(world["teacher"])
    c.post("/courses/new", data={**_form(world), "csrf_token": c.csrf()})
    return c, db_session.scalar(select(Course).where(Course.title == "교통 안전 교실"))


def test_approve_enrol_and_student_sees_it(login, web_world, db_session):
    teacher, course = _submitted(login, web_world, db_session)
    admin = login(web_world["school_admin"])
    r = admin.post(f"/courses/{course.id}/approve", data={"reason": "", "csrf_token": admin.csrf()})
    assert r.status_code == 302
    r = teacher.post(
        f"/courses/{course.id}/enrolment",
        data={
            "op": "group",
            "school_id": web_world.school.id,
            "class_id": web_world.cls.id,
            "csrf_token": teacher.csrf(),
        },
    )
    assert r.status_code == 302
    assert "5명을 등록했습니다." in teacher.get(r.headers["Location"]).get_data(as_text=True)
    student = login(web_world["student"])
    assert "교통 안전 교실" in student.get("/").get_data(as_text=True)
    student.get(f"/courses/{course.id}")
    assert "이어서 학습하기" in student.get("/").get_data(as_text=True)
    # History shows who did what.
    page = teacher.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "승인 대기 → 승인됨" in page


def test_reject_without_reason_keeps_status(login, web_world, db_session):
    _, course = _submitted(login, web_world, db_session)
    admin = login(web_world["school_admin"])
    r = admin.post(f"/courses/{course.id}/reject", data={"reason": "", "csrf_token": admin.csrf()})
    assert r.status_code == 302
    assert "사유를 입력하세요." in admin.get(r.headers["Location"]).get_data(as_text=True)
    assert db_session.get(Course, course.id).status == CourseStatus.submitted


def test_invalid_transition_is_a_clear_409(login, web_world, db_session):
    teacher, course = _submitted(login, web_world, db_session)
    r = teacher.post(f"/courses/{course.id}/start", data={"csrf_token": teacher.csrf()})
    assert r.status_code == 409
    assert "'승인 대기' 상태에서 '운영 중'(으)로 바꿀 수 없습니다." in html.unescape(r.get_data(as_text=True))


def test_individual_enrol_and_remove(login, web_world, db_session):
    teacher, course = _submitted(login, web_world, db_session)
    admin = login(web_world["school_admin"])
    admin.post(f"/courses/{course.id}/approve", data={"csrf_token": admin.csrf()})
    r = teacher.post(
        f"/courses/{course.id}/enrolment",
        data={"op": "add", "username": web_world["student"].username, "csrf_token": teacher.csrf()},
    )
    assert r.status_code == 302
    assert db_session.scalar(select(Enrolment).where(Enrolment.course_id == course.id)) is not None
    r = teacher.post(
        f"/courses/{course.id}/enrolment",
        data={"op": "add", "username": "nobody-here", "csrf_token": teacher.csrf()},
    )
    assert "학생을 찾을 수 없습니다." in teacher.get(r.headers["Location"]).get_data(as_text=True)
    r = teacher.post(
        f"/courses/{course.id}/enrolment",
        data={"op": "remove", "student_id": web_world["student"].id, "csrf_token": teacher.csrf()},
    )
    assert r.status_code == 302
    assert db_session.scalar(select(Enrolment).where(Enrolment.course_id == course.id)) is None
    r = teacher.post(
        f"/courses/{course.id}/enrolment",
        data={"op": "remove", "student_id": "abc", "csrf_token": teacher.csrf()},
    )
    assert r.status_code == 422


def test_lesson_schedule_and_material(login, web_world, db_session):
    teacher, course = _submitted(login, web_world, db_session)
    admin = login(web_world["school_admin"])
    admin.post(f"/courses/{course.id}/approve", data={"csrf_token": admin.csrf()})
    lesson = db_session.get(Course, course.id).lessons[0]
    r = teacher.post(
        f"/courses/{course.id}/lessons/{lesson.id}",
        data={
            "title": "횡단보도 건너기",
            "starts_at": "2026-12-01T10:00",
            "ends_at": "2026-12-01T10:40",
            "description": "",
            "csrf_token": teacher.csrf(),
        },
    )
    assert r.status_code == 302
    page = teacher.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "횡단보도 건너기" in page and "2026-12-01 10:00" in page  # shown in Seoul time as entered
    r = teacher.post(
        f"/courses/{course.id}/lessons/{lesson.id}",
        data={
            "title": "x",
            "starts_at": "2026-12-01T10:00",
            "ends_at": "2026-12-01T09:00",
            "csrf_token": teacher.csrf(),
        },
    )
    assert r.status_code == 422
    r = teacher.post(
        f"/courses/{course.id}/materials",
        data={"title": "안전 수칙", "url": "javascript:alert(1)", "csrf_token": teacher.csrf()},
    )
    assert r.status_code == 422
    r = teacher.post(
        f"/courses/{course.id}/materials",
        data={"title": "안전 수칙", "url": "https://example.org/rules.pdf", "csrf_token": teacher.csrf()},
    )
    assert "안전 수칙" in teacher.get(f"/courses/{course.id}").get_data(as_text=True)


def test_office_admin_edits_theme(login, web_world, db_session):
    c = login(web_world["office_admin"])
    theme = web_world.themes[0]
    r = c.post(
        f"/admin/themes/{theme.id}",
        data={
            "name": "안전·건강",
            "description": "설명",
            "active": "on",
            "elements": "생활 안전\n새 요소\n",
            "csrf_token": c.csrf(),
        },
    )
    assert r.status_code == 302
    db_session.expire_all()
    assert [e.name for e in db_session.get(Theme, theme.id).elements] == ["생활 안전", "새 요소"]
    r = c.post(f"/admin/themes/{theme.id}", data={"name": "", "elements": "", "csrf_token": c.csrf()})
    assert r.status_code == 422


def test_register_external_instructor(login, web_world, db_session):
    c = login(web_world["teacher"])
    r = c.post(
        "/instructors",
        data={
            "username": "eco-kim",
            "name": "김환경",
            "affiliation": "환경센터",
            "theme_ids": [str(web_world.themes[9].id)],
            "csrf_token": c.csrf(),
        },
    )
    assert r.status_code == 302
    profile = db_session.scalar(
        select(InstructorProfile)
        .join(InstructorProfile.user)
        .where(InstructorProfile.affiliation == "환경센터")
    )
    assert profile.external  # teachers can only register external instructors
    r = c.post("/instructors", data={"username": "eco-kim", "name": "김환경", "csrf_token": c.csrf()})
    assert r.status_code == 422 and "이미 쓰이는 아이디입니다." in r.get_data(as_text=True)
    r = c.post("/instructors", data={"username": "x", "name": "", "phone": "call me", "csrf_token": c.csrf()})
    assert r.status_code == 422


def test_notifications_mark_read(login, web_world, db_session):
    _submitted(login, web_world, db_session)
    admin = login(web_world["school_admin"])
    assert 'class="badge"' in admin.get("/").get_data(as_text=True)
    admin.post("/notifications/read", data={"csrf_token": admin.csrf()})
    assert db_session.scalar(select(Notification).where(Notification.read_at.is_(None))) is None


def test_report_table_chart_csv_xlsx(login, web_world, db_session):
    _submitted(login, web_world, db_session)
    c = login(web_world["office_admin"])
    page = c.get("/reports/enrolment").get_data(as_text=True)
    assert "<canvas" in page and "chart-data" in page and "가람초" in page
    heading, header, rows = read_csv(c.get("/reports/enrolment?format=csv").data)
    assert heading[0] == "학교별 수강 현황" and heading[1] == "교육청: 가람교육청"
    assert heading[2].startswith("내보낸 날짜: 20")  # the title block names what and when
    assert header == ["학교", "강좌 수", "수강 등록 수", "수강 학생 수"]
    assert any(row[0] == "가람초" for row in rows)
    heading, header, rows = read_xlsx(c.get("/reports/enrolment?format=xlsx").data)
    assert heading[0] == "학교별 수강 현황"
    assert header == ["학교", "강좌 수", "수강 등록 수", "수강 학생 수"] and len(rows) == 2
    assert c.get("/reports/enrolment?format=pdf").status_code == 400


def test_course_list_rejects_unknown_status(login, web_world):
    c = login(web_world["teacher"])
    assert c.get("/courses/?status=bogus").status_code == 400


def test_a_rejected_request_is_fixed_on_its_own_page_and_sent_again(login, web_world, db_session) -> None:
    teacher, course = _submitted(login, web_world, db_session)
    admin = login(web_world["school_admin"])
    admin.post(
        f"/courses/{course.id}/reject", data={"reason": "차시가 너무 많습니다", "csrf_token": admin.csrf()}
    )
    page = teacher.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "고쳐서 다시 요청하기" in page and "반려했습니다" not in page
    form = teacher.get(f"/courses/{course.id}/edit").get_data(as_text=True)
    assert "반려 사유" in form and "차시가 너무 많습니다" in form and 'value="교통 안전 교실"' in form
    assert login(web_world["teacher2"]).get(f"/courses/{course.id}/edit").status_code in (403, 404)
    assert admin.get(f"/courses/{course.id}/edit").status_code == 403  # the approver does not rewrite it
    from app.blueprints.courses import course_values

    values = course_values(db_session.get(Course, course.id))
    values.update(title="교통 안전 교실 (2차)", hours="4", lesson_count="2", csrf_token=teacher.csrf())
    values.pop("targets")
    bad = teacher.post(f"/courses/{course.id}/edit", data={**values, "hours": "0"})
    assert bad.status_code == 422 and "교통 안전 교실 (2차)" in bad.get_data(as_text=True)  # input kept
    r = teacher.post(f"/courses/{course.id}/edit", data=values)
    assert r.status_code == 302
    db_session.expire_all()
    again = db_session.get(Course, course.id)
    assert again.status == CourseStatus.submitted and again.title == "교통 안전 교실 (2차)"
    assert teacher.get(f"/courses/{course.id}/edit").status_code == 403  # no longer rejected


def test_a_request_is_copied_for_the_next_term_with_its_dates_left_to_choose(
    login, web_world, db_session
) -> None:
    teacher, course = _submitted(login, web_world, db_session)
    page = teacher.get(f"/courses/{course.id}/copy").get_data(as_text=True)
    assert "강좌 요청 복사" in page and 'value="교통 안전 교실"' in page and 'action="/courses/new"' in page
    assert 'id="start_date" name="start_date" type="date" required value=""' in page
    assert login(web_world["teacher2"]).get(f"/courses/{course.id}/copy").status_code in (403, 404)
