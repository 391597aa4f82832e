"""The request form that guides, names instead of ids, the enrolment page by status and level, themes added
and retired, instructors edited and deactivated: through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from courses import enrolment, workflow
from courses.models import (
    Course,
    CourseEvent,
    CourseStatus,
    EventKind,
    InstructorProfile,
    Lesson,
    Theme,
    User,
)
from courses.workflow import SEOUL, TargetInput
from tests.factories import course_input, make_user

START = date.today() + timedelta(days=10)
DAY = (START + timedelta(days=2)).isoformat()


def _form(world, **over):
    data = {
        "level": "class",
        "theme_id": str(world.themes[0].id),
        "title": "교통 안전 교실",
        "goals": "안전하게 등하교한다.",
        "delivery": "live",
        "lesson_count": "3",
        "hours": "3",
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=14)).isoformat(),
        "instructor_mode": "homeroom",
        "recording_policy": "none",
        "class_id": str(world.cls.id),
    }
    data.update(over)
    return data


def _counts(db_session):
    return tuple(
        db_session.scalar(select(func.count()).select_from(m)) for m in (Course, Lesson, CourseEvent)
    )


def _text(r) -> str:
    return html.unescape(r.get_data(as_text=True))


def _select(page: str, select_id: str) -> str:
    """One select of a page, from its opening tag to its end."""
    m = re.search(rf'<select id="{select_id}".*?</select>', page, re.S)
    assert m, f"no select #{select_id}"
    return m.group(0)


# -- 1. the form -----------------------------------------------------------------------------------


def test_a_teacher_sees_their_only_level_and_class_as_text_and_lists_start_with_choose(login, web_world):
    page = login(web_world["teacher"]).get("/courses/new").get_data(as_text=True)
    assert 'type="radio" name="level"' not in page
    assert '<input type="hidden" name="level" value="class">' in page and "학급 단위" in page
    assert f'<input type="hidden" name="class_id" value="{web_world.cls.id}">' in page  # teaches one class
    for select_id in ("theme_id", "content_element_id", "instructor_id"):
        first = re.search(rf'<select id="{select_id}"[^>]*>\s*<option value="">([^<]+)</option>', page)
        assert first and first.group(1) == "선택하세요", select_id
    assert "선택 안 함" not in page and "나중에 지정</option>" not in page
    element = web_world.themes[1].elements[0]
    assert f'value="{element.id}" data-theme="{web_world.themes[1].id}"' in page
    assert 'data-kind="office"' in page and 'data-kind="external"' in page and 'data-kind="teacher"' in page
    assert "js/request-form.js" in page
    assert '<fieldset id="schedule">' in page and "<legend>강사 유형</legend>" in page


def test_a_school_admin_chooses_between_two_levels_with_radios(login, web_world):
    page = login(web_world["school_admin"]).get("/courses/new").get_data(as_text=True)
    assert 'name="level" value="school"' in page and 'name="level" value="class"' in page
    assert '<fieldset id="level"><legend>요청 단위</legend>' in page
    assert '<select id="class_id" name="class_id"' in page


def test_without_javascript_the_form_makes_a_row_per_lesson_and_keeps_the_input(login, web_world, db_session):
    c = login(web_world["teacher"])
    before = _counts(db_session)
    r = c.post(
        "/courses/new",
        data={**_form(web_world, lesson_count="3", title="내 제목"), "op": "rows", "csrf_token": c.csrf()},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and _counts(db_session) == before
    assert all(f'id="lesson_date_{n}"' in page for n in (1, 2, 3)) and 'id="lesson_date_4"' not in page
    assert 'value="내 제목"' in page
    assert 'id="lesson_date___n__"' in page  # the row template the script copies


def test_lesson_times_set_in_the_form_are_the_lessons(login, web_world, db_session):
    c = login(web_world["teacher"])
    form = _form(web_world, lesson_date_1=DAY, lesson_start_1="09:00", lesson_end_1="09:40")
    r = c.post("/courses/new", data={**form, "csrf_token": c.csrf()})
    assert r.status_code == 302, _text(r)[:2000]
    course = db_session.scalar(select(Course).where(Course.title == "교통 안전 교실"))
    first = course.lessons[0]
    assert f"{first.starts_at.astimezone(SEOUL):%Y-%m-%d %H:%M}" == f"{DAY} 09:00"
    assert f"{first.ends_at.astimezone(SEOUL):%H:%M}" == "09:40" and course.lessons[1].starts_at is None


def test_a_lesson_ending_before_it_starts_is_refused_in_place_with_the_input_kept(
    login, web_world, db_session
):
    c = login(web_world["teacher"])
    before = _counts(db_session)
    form = _form(
        web_world,
        goals="내가 적은 목표",
        lesson_date_2=DAY,
        lesson_start_2="10:00",
        lesson_end_2="09:15",
    )
    r = c.post("/courses/new", data={**form, "csrf_token": c.csrf()})
    page = _text(r)
    assert r.status_code == 422 and _counts(db_session) == before
    assert '<a href="#lesson_end_2">2차시 종료 시각: 시작보다 늦어야 합니다.</a>' in page  # in the summary
    assert (
        '<p class="field-error" id="lesson_end_2-error">2차시 종료 시각: 시작보다 늦어야 합니다.</p>' in page
    )
    assert re.search(r'id="lesson_end_2"[^>]*value="09:15"[^>]*aria-describedby="lesson_end_2-error"', page)
    assert 'value="10:00"' in page and f'value="{DAY}"' in page and "내가 적은 목표" in page


def test_every_error_in_the_summary_names_its_field(login, web_world):
    c = login(web_world["teacher"])
    r = c.post("/courses/new", data={**_form(web_world, lesson_count="", hours="열"), "csrf_token": c.csrf()})
    page = _text(r)
    assert r.status_code == 422
    assert '<a href="#lesson_count">수업 횟수: 값을 입력하세요.</a>' in page
    assert '<a href="#hours">차시 (총 수업시수): 숫자를 입력하세요.</a>' in page


BIG_IDS = ["2147483648", "3000000000", "9223372036854775807", "9223372036854775808", "1" + "0" * 30, "-1"]
GARBAGE_TIMES = [
    "25:00",
    "24:00",
    "09:60",
    "9시",
    "0900",
    "9:00",
    "09:00+09:00",
    "０９:００",
    "-1:00",
    "99:99:99",
    "09:00:60",
    "noon",
]
GARBAGE_DATES = ["2026-02-30", "0001-01-01", "9999-12-31", "어제", "2027-1-1"]


def _bad_form_cases(world):
    other_element = world.themes[1].elements[0].id
    cases = [
        (
            f"time {v!r}",
            {"lesson_date_1": DAY, "lesson_start_1": v, "lesson_end_1": "10:00"},
            "lesson_start_1",
        )
        for v in GARBAGE_TIMES
    ]
    cases += [
        (f"end {v!r}", {"lesson_date_1": DAY, "lesson_start_1": "09:00", "lesson_end_1": v}, "lesson_end_1")
        for v in GARBAGE_TIMES[:4]
    ]
    cases += [
        (
            f"date {v!r}",
            {"lesson_date_2": v, "lesson_start_2": "09:00", "lesson_end_2": "10:00"},
            "lesson_date_2",
        )
        for v in GARBAGE_DATES
    ]
    cases += [
        (
            "end before start",
            {"lesson_date_3": DAY, "lesson_start_3": "15:00", "lesson_end_3": "14:59"},
            "lesson_end_3",
        ),
        (
            "lesson after the count",
            {"lesson_date_4": DAY, "lesson_start_4": "09:00", "lesson_end_4": "10:00"},
            "lesson_date_4",
        ),
        (
            "lesson before the course",
            {
                "lesson_date_1": (START - timedelta(days=1)).isoformat(),
                "lesson_start_1": "09:00",
                "lesson_end_1": "10:00",
            },
            "lesson_date_1",
        ),
        ("element of another theme", {"content_element_id": str(other_element)}, "content_element_id"),
        (
            "instructor of another office",
            {"instructor_mode": "office", "instructor_id": str(world["other_instructor"].id)},
            "instructor_id",
        ),
        (
            "a teacher as an office instructor",
            {"instructor_mode": "office", "instructor_id": str(world["teacher2"].id)},
            "instructor_id",
        ),
        ("retired theme", {"theme_id": str(world.themes[5].id)}, "theme_id"),
        ("lesson count huge", {"lesson_count": "9" * 25}, "lesson_count"),
        ("lesson count big", {"lesson_count": "3000000000", "hours": "3000000000"}, "lesson_count"),
    ]
    for field in ("theme_id", "content_element_id", "instructor_id", "class_id"):
        cases += [(f"{field} {v}", {field: v}, field) for v in BIG_IDS]
    return cases


@pytest.fixture()
def bad_world(web_world, db_session):
    w = web_world
    w.users["other_instructor"] = make_user(
        db_session, "other-ins", w["instructor"].role, w.other_office, w.other_office
    )
    db_session.add(InstructorProfile(user_id=w["other_instructor"].id, office_id=w.other_office.id))
    w.themes[5].active = False
    db_session.commit()
    return w


def test_bad_request_forms_are_refused_naming_the_field_and_writing_nothing(login, bad_world, db_session):
    c = login(bad_world["teacher"])
    token = c.csrf()
    before = _counts(db_session)
    for case, over, field in _bad_form_cases(bad_world):
        r = c.post("/courses/new", data={**_form(bad_world), **over, "csrf_token": token})
        page = _text(r)
        assert r.status_code == 422, (case, r.status_code, page[:300])
        assert f'<a href="#{field}">' in page, (case, re.findall(r'<a href="#([^"]+)">', page))
        for key, value in over.items():  # what was typed is shown again
            if key.startswith("lesson_") or key in ("hours",):
                assert f'name="{key}" type="' in page and f'value="{value}"' in page, (case, key)
    assert _counts(db_session) == before


def test_instructor_ids_too_big_for_an_id_column_are_404(login, web_world):
    c = login(web_world["office_admin"])
    for huge in ("2147483648", "3000000000", "9223372036854775807"):
        assert c.get(f"/instructors/{huge}").status_code == 404
        assert c.post(f"/instructors/{huge}/deactivate", data={"csrf_token": c.csrf()}).status_code == 404


def test_lesson_fields_past_sixty_or_with_huge_numbers_are_never_read(login, web_world, db_session):
    c = login(web_world["teacher"])
    junk = {f"lesson_date_{n}": "garbage" for n in ("61", "99999999999999999999", "0", "-1", "1e3", "١")}
    r = c.post("/courses/new", data={**_form(web_world), **junk, "csrf_token": c.csrf()})
    assert r.status_code == 302
    course = db_session.scalar(select(Course).where(Course.title == "교통 안전 교실"))
    assert len(course.lessons) == 3


def _json(world, **over):
    body = {k: v for k, v in _form(world).items()}
    body.update(theme_id=world.themes[0].id, class_id=world.cls.id, lesson_count=3, hours=3)
    body.update(over)
    return body


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"number": 1}, "schedule"),
        ([1, 2], "schedule"),
        ([{"number": 0, "date": DAY, "start": "09:00", "end": "10:00"}], "schedule"),
        ([{"number": 3000000000, "date": DAY, "start": "09:00", "end": "10:00"}], "schedule"),
        ([{"number": "1", "date": DAY, "start": "09:00", "end": "10:00"}] * 61, "schedule"),
        ([{"number": 1, "date": DAY, "start": "10:00", "end": "09:00"}], "lesson_end_1"),
        ([{"number": 2, "date": DAY, "start": 900, "end": "10:00"}], "lesson_start_2"),
        ([{"number": 2, "date": 20270301, "start": "09:00", "end": "10:00"}], "lesson_date_2"),
        ([{"number": 1, "date": DAY, "start": "09:00"}], "lesson_end_1"),
        ([{"number": True, "date": DAY, "start": "09:00", "end": "10:00"}], "schedule"),
    ],
)
def test_bad_json_schedules(login, web_world, db_session, schedule, field):
    c = login(web_world["teacher"])
    before = _counts(db_session)
    r = c.post("/api/v1/courses", json=_json(web_world, schedule=schedule), headers={"X-CSRFToken": c.csrf()})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert _counts(db_session) == before


def test_a_json_schedule_sets_the_lessons_times(login, web_world, db_session):
    c = login(web_world["teacher"])
    schedule = [{"number": 2, "date": DAY, "start": "13:00", "end": "13:40"}]
    r = c.post("/api/v1/courses", json=_json(web_world, schedule=schedule), headers={"X-CSRFToken": c.csrf()})
    assert r.status_code == 201, r.get_json()
    lessons = r.get_json()["lessons"]
    assert lessons[0]["starts_at"] is None
    assert datetime.fromisoformat(lessons[1]["starts_at"]) == datetime.fromisoformat(f"{DAY}T13:00:00+09:00")


def test_editing_and_copying_show_the_lesson_times(login, web_world, db_session):
    c = login(web_world["teacher"])
    form = _form(web_world, lesson_date_1=DAY, lesson_start_1="09:00", lesson_end_1="09:40")
    c.post("/courses/new", data={**form, "csrf_token": c.csrf()})
    course = db_session.scalar(select(Course).where(Course.title == "교통 안전 교실"))
    page = c.get(f"/courses/{course.id}/copy").get_data(as_text=True)
    assert re.search(r'id="lesson_start_1"[^>]*value="09:00"', page) and re.search(
        r'id="lesson_date_1"[^>]*value=""', page
    )
    course = db_session.get(Course, course.id)  # the request ended the session the course was loaded in
    workflow.reject(db_session, web_world["school_admin"], course, "다시")
    db_session.commit()
    page = c.get(f"/courses/{course.id}/edit").get_data(as_text=True)
    assert re.search(rf'id="lesson_date_1"[^>]*value="{DAY}"', page) and re.search(
        r'id="lesson_end_1"[^>]*value="09:40"', page
    )


def test_editing_a_request_whose_theme_was_retired_says_so(login, web_world, db_session):
    teacher = web_world["teacher"]
    course = workflow.submit_request(
        db_session, teacher, course_input(web_world, theme_id=web_world.themes[3].id)
    )
    workflow.reject(db_session, web_world["school_admin"], course, "주제를 바꿔 주세요")
    web_world.themes[3].active = False
    db_session.commit()
    page = _text(login(teacher).get(f"/courses/{course.id}/edit"))
    assert f"이 요청의 주제 「{web_world.themes[3].name}」는 사용이 중지되었습니다." in page
    assert f'<option value="{web_world.themes[3].id}"' not in _select(page, "theme_id")


# -- 2. names, never raw ids -------------------------------------------------------------------------


def test_the_course_page_names_the_instructor_and_history_never_shows_ids(login, web_world, db_session):
    w = web_world
    profile = db_session.scalar(
        select(InstructorProfile).where(InstructorProfile.user_id == w["instructor"].id)
    )
    profile.affiliation = "가람안전교육원"
    course = workflow.submit_request(
        db_session, w["teacher"], course_input(w, instructor_id=w["instructor"].id)
    )
    workflow.approve(db_session, w["school_admin"], course)
    workflow.assign_instructor(db_session, w["school_admin"], course, "external", w["external"].id)
    enrolment.enrol_group(db_session, w["teacher"], course, school_id=w.school.id, class_id=w.cls.id)
    leaver = db_session.scalar(select(User).where(User.username == "a51-s2"))
    enrolment.unenrol(db_session, w["teacher"], course, leaver.id)
    db_session.add_all(
        [  # rows written before history named things
            CourseEvent(
                course_id=course.id,
                kind=EventKind.enrolment,
                to_value="+5",
                detail=f"school={w.school.id} class={w.cls.id}",
            ),
            CourseEvent(
                course_id=course.id, kind=EventKind.enrolment, to_value="-1", detail=f"id={w['student2'].id}"
            ),
        ]
    )
    db_session.commit()
    page = _text(login(w["school_admin"]).get(f"/courses/{course.id}"))
    facts = page[page.index('<dl class="facts">') : page.index("</dl>")]
    assert f'<span class="instructor-name">{w["external"].name}</span>' in facts
    history = page[page.index('id="hist-h"') :]
    assert f"강사 변경: {w['instructor'].name} → {w['external'].name}" in history
    assert "가람초 5학년 1반" in history and leaver.name in history and w["student2"].name in history
    assert not re.search(r"(school|class|id|instructor_id)=\d", page)
    api = login(w["school_admin"]).get(f"/api/v1/courses/{course.id}").get_json()
    assert any(
        h["summary"] == f"강사 변경: {w['instructor'].name} → {w['external'].name}" for h in api["history"]
    )
    assert login(w["student2"]).get(f"/api/v1/courses/{course.id}").status_code == 404
    assert login(w["parent"]).get(f"/api/v1/courses/{course.id}").get_json()["history"] == []
    assert login(w["student"]).get(f"/api/v1/courses/{course.id}").get_json()["history"] == []


def test_the_instructor_box_shows_the_affiliation(login, web_world, db_session):
    w = web_world
    profile = db_session.scalar(
        select(InstructorProfile).where(InstructorProfile.user_id == w["instructor"].id)
    )
    profile.affiliation = "가람안전교육원"
    course = workflow.submit_request(
        db_session, w["teacher"], course_input(w, instructor_id=w["instructor"].id)
    )
    homeroom = workflow.submit_request(db_session, w["teacher"], course_input(w, instructor_mode="homeroom"))
    db_session.commit()
    c = login(w["teacher"])
    assert f"{w['instructor'].name}</span> · 가람안전교육원 (교육청 제공 강사)" in _text(
        c.get(f"/courses/{course.id}")
    )
    assert f"{w['teacher'].name}</span> · 가람초 (담임 교사)" in _text(c.get(f"/courses/{homeroom.id}"))


def test_assigning_a_wrong_instructor_says_why_on_the_course_page(login, web_world, db_session):
    w = web_world
    course = workflow.submit_request(db_session, w["teacher"], course_input(w))
    db_session.commit()
    c = login(w["school_admin"])
    page = c.get(f"/courses/{course.id}").get_data(as_text=True)
    assert re.search(
        r'<select id="assign-id" name="instructor_id" required>\s*<option value="">선택하세요</option>', page
    )
    for data, message in [
        ({"instructor_mode": "office", "instructor_id": ""}, "강사: 값을 입력하세요."),
        (
            {"instructor_mode": "office", "instructor_id": str(w["teacher"].id)},
            "강사: 강사 인력풀에 없는 강사입니다.",
        ),
        (
            {"instructor_mode": "office", "instructor_id": "3000000000"},
            "강사: 선택한 항목을 찾을 수 없습니다.",
        ),
    ]:
        r = c.post(f"/courses/{course.id}/instructor", data={**data, "csrf_token": c.csrf()})
        assert r.status_code == 302
        assert message in _text(c.get(r.headers["Location"]))
    db_session.expire_all()
    assert db_session.get(Course, course.id).instructor_id is None  # unchanged


# -- 3. the enrolment page -----------------------------------------------------------------------------


def test_enrolment_page_of_a_course_not_yet_approved_explains_what_happens_next(login, web_world, db_session):
    course = workflow.submit_request(db_session, web_world["teacher"], course_input(web_world))
    db_session.commit()
    page = _text(login(web_world["teacher"]).get(f"/courses/{course.id}/enrolment"))
    assert "아직 승인되지 않은 요청이라 수강생이 없습니다." in page
    assert "가람초 5학년 1반" in page  # who will be enrolled
    assert 'name="op" value="group"' not in page and "수강생 목록" not in page
    workflow.reject(db_session, web_world["school_admin"], db_session.get(Course, course.id), "다시")
    db_session.commit()
    assert "반려된 요청이라" in _text(login(web_world["teacher"]).get(f"/courses/{course.id}/enrolment"))


def _group_buttons(page: str) -> list[str]:
    return re.findall(r"<button type=\"submit\">([^<]+ 등록)</button>", page)


def test_enrolment_page_offers_only_groups_that_fit_the_level(login, web_world, db_session):
    w = web_world
    cls_course = workflow.submit_request(db_session, w["teacher"], course_input(w))
    school_course = workflow.submit_request(
        db_session, w["school_admin"], course_input(w, level="school", targets=[TargetInput(w.school.id, 6)])
    )
    office_course = workflow.submit_request(db_session, w["office_admin"], course_input(w, level="office"))
    workflow.approve(db_session, w["school_admin"], cls_course)
    workflow.approve(db_session, w["office_admin"], school_course)
    workflow.approve(db_session, w["office_admin"], office_course)
    db_session.commit()
    teacher, school, office = login(w["teacher"]), login(w["school_admin"]), login(w["office_admin"])
    assert _group_buttons(_text(teacher.get(f"/courses/{cls_course.id}/enrolment"))) == ["5학년 1반 등록"]
    assert _group_buttons(_text(school.get(f"/courses/{school_course.id}/enrolment"))) == [
        "6학년 등록",
        "6학년 1반 등록",
    ]
    assert _group_buttons(_text(office.get(f"/courses/{office_course.id}/enrolment"))) == [
        "가람초 전체 등록",
        "가온초 전체 등록",
    ]
    assert _group_buttons(_text(school.get(f"/courses/{office_course.id}/enrolment"))) == ["가람초 전체 등록"]
    r = office.post(
        f"/courses/{office_course.id}/enrolment",
        data={"op": "group", "school_id": w.school_b.id, "csrf_token": office.csrf()},
    )
    assert r.status_code == 302 and "5명을 등록했습니다." in _text(office.get(r.headers["Location"]))


def test_enrolment_page_of_a_course_that_is_over(login, web_world, db_session):
    course = workflow.submit_request(db_session, web_world["teacher"], course_input(web_world))
    workflow.approve(db_session, web_world["school_admin"], course)
    course.status = CourseStatus.completed
    db_session.commit()
    page = _text(login(web_world["teacher"]).get(f"/courses/{course.id}/enrolment"))
    assert "운영이 끝난 강좌라" in page and 'name="op" value="group"' not in page


# -- 4. themes ------------------------------------------------------------------------------------------


def _theme_form(**over):
    data = {
        "code": "digital",
        "name": "디지털 시민성",
        "name_en": "Digital citizenship",
        "description": "설명",
        "elements": "디지털 발자국\n저작권",
    }
    data.update(over)
    return data


def test_office_admin_adds_a_theme_that_new_requests_offer(login, web_world, db_session):
    c = login(web_world["office_admin"])
    assert "주제 추가" in c.get("/themes").get_data(as_text=True)
    assert c.get("/admin/themes/new").status_code == 200
    r = c.post("/admin/themes/new", data={**_theme_form(), "csrf_token": c.csrf()})
    assert r.status_code == 302
    assert "주제 「디지털 시민성」를 추가했습니다." in _text(c.get(r.headers["Location"]))
    theme = db_session.scalar(select(Theme).where(Theme.code == "digital"))
    assert [e.name for e in theme.elements] == [
        "디지털 발자국",
        "저작권",
    ] and theme.name_en == "Digital citizenship"
    form = login(web_world["teacher"]).get("/courses/new").get_data(as_text=True)
    assert f'<option value="{theme.id}"' in _select(form, "theme_id")


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "Safety Health"}, "code"),
        ({"code": "safety_health"}, "code"),
        ({"name": ""}, "name"),
        ({"name": "인성"}, "name"),
        ({"name_en": "x" * 81}, "name_en"),
        ({"elements": "가" * 81}, "elements"),
    ],
)
def test_bad_new_themes_keep_the_input(login, web_world, db_session, over, field):
    c = login(web_world["office_admin"])
    before = db_session.scalar(select(func.count()).select_from(Theme))
    r = c.post(
        "/admin/themes/new", data={**_theme_form(description="내가 쓴 설명", **over), "csrf_token": c.csrf()}
    )
    page = _text(r)
    assert r.status_code == 422 and f'id="{field}-error"' in page and "내가 쓴 설명" in page
    assert db_session.scalar(select(func.count()).select_from(Theme)) == before


def test_a_retired_theme_leaves_new_requests_and_stays_on_old_courses(login, web_world, db_session):
    theme = web_world.themes[6]
    course = workflow.submit_request(
        db_session, web_world["teacher"], course_input(web_world, theme_id=theme.id)
    )
    db_session.commit()
    c = login(web_world["office_admin"])
    r = c.post(f"/admin/themes/{theme.id}/retire", data={"csrf_token": c.csrf()})
    assert r.status_code == 302
    assert "사용을 중지했습니다." in _text(c.get(r.headers["Location"]))
    teacher = login(web_world["teacher"])
    assert f'<option value="{theme.id}"' not in _select(
        teacher.get("/courses/new").get_data(as_text=True), "theme_id"
    )
    assert theme.name not in teacher.get("/themes").get_data(as_text=True)
    assert theme.name in _text(teacher.get(f"/courses/{course.id}"))
    assert "사용 중지" in _text(c.get("/themes"))  # the office still sees it, marked
    r = teacher.post(
        "/courses/new", data={**_form(web_world, theme_id=str(theme.id)), "csrf_token": teacher.csrf()}
    )
    assert r.status_code == 422 and "사용이 중지된 주제입니다." in _text(r)
    c.post(f"/admin/themes/{theme.id}/reactivate", data={"csrf_token": c.csrf()})
    assert f'<option value="{theme.id}"' in _select(
        teacher.get("/courses/new").get_data(as_text=True), "theme_id"
    )


def test_deleting_a_theme_is_refused_while_a_course_uses_it(login, web_world, db_session):
    used, unused = web_world.themes[7], web_world.themes[8]
    workflow.submit_request(db_session, web_world["teacher"], course_input(web_world, theme_id=used.id))
    db_session.commit()
    c = login(web_world["office_admin"])
    assert "강좌 1개가 이 주제를 쓰고 있어 삭제할 수 없습니다." in _text(c.get(f"/admin/themes/{used.id}"))
    r = c.post(f"/admin/themes/{used.id}/delete", data={"csrf_token": c.csrf()})
    assert r.status_code == 409 and 'role="alert"' in r.get_data(as_text=True)
    assert "새 요청에서 빼려면 사용 중지하세요." in _text(r)
    assert db_session.get(Theme, used.id) is not None
    r = c.post(f"/admin/themes/{unused.id}/delete", data={"csrf_token": c.csrf()})
    assert r.status_code == 302
    db_session.expire_all()
    assert db_session.get(Theme, unused.id) is None


@pytest.mark.parametrize("role", ["school_admin", "teacher", "instructor", "student", "parent"])
def test_only_office_admins_manage_themes(login, web_world, db_session, role):
    c = login(web_world[role])
    theme = web_world.themes[0]
    assert c.get("/admin/themes/new").status_code == 403
    for path in (
        "/admin/themes/new",
        f"/admin/themes/{theme.id}",
        f"/admin/themes/{theme.id}/retire",
        f"/admin/themes/{theme.id}/delete",
    ):
        assert c.post(path, data={**_theme_form(), "csrf_token": c.csrf()}).status_code == 403, path
    db_session.expire_all()
    assert db_session.get(Theme, theme.id).active and "주제 추가" not in c.get("/themes").get_data(
        as_text=True
    )


# -- 5. instructors ---------------------------------------------------------------------------------------


def _profile(db_session, user) -> InstructorProfile:
    return db_session.scalar(select(InstructorProfile).where(InstructorProfile.user_id == user.id))


def test_office_admin_edits_an_instructor(login, web_world, db_session):
    profile = _profile(db_session, web_world["external"])
    c = login(web_world["office_admin"])
    assert f'href="/instructors/{profile.id}"' in c.get("/instructors").get_data(as_text=True)
    r = c.post(
        f"/instructors/{profile.id}",
        data={
            "affiliation": "숲 학교",
            "bio": "숲 해설가입니다.",
            "availability": "화·목 오후",
            "phone": "010-2222-3333",
            "theme_ids": [str(web_world.themes[9].id)],
            "csrf_token": c.csrf(),
        },
    )
    assert r.status_code == 302
    db_session.expire_all()
    profile = _profile(db_session, web_world["external"])
    assert (profile.affiliation, profile.availability, profile.phone) == (
        "숲 학교",
        "화·목 오후",
        "010-2222-3333",
    )
    assert [t.id for t in profile.themes] == [web_world.themes[9].id]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"phone": "전화 주세요"}, "phone"),
        ({"affiliation": "가" * 121}, "affiliation"),
        ({"theme_ids": ["99999999999999999999"]}, "theme_ids"),
        ({"theme_ids": ["3000000000"]}, "theme_ids"),
        ({"theme_ids": ["x"]}, "theme_ids"),
    ],
)
def test_bad_instructor_edits_name_the_field_and_keep_the_input(login, web_world, db_session, over, field):
    profile = _profile(db_session, web_world["external"])
    c = login(web_world["office_admin"])
    data = {
        "affiliation": "내가 쓴 소속",
        "bio": "",
        "availability": "",
        "phone": "",
        **over,
        "csrf_token": c.csrf(),
    }
    r = c.post(f"/instructors/{profile.id}", data=data)
    page = _text(r)
    assert r.status_code == 422 and f'id="{field}-error"' in page
    assert 'value="' + (over.get("affiliation") or "내가 쓴 소속") + '"' in page
    db_session.expire_all()
    assert _profile(db_session, web_world["external"]).affiliation is None


def test_a_deactivated_instructor_is_not_offered_and_keeps_their_courses(login, web_world, db_session):
    w = web_world
    w["instructor"].name = "김안전"
    course = workflow.submit_request(
        db_session, w["teacher"], course_input(w, instructor_id=w["instructor"].id)
    )
    db_session.commit()
    profile = _profile(db_session, w["instructor"])
    c = login(w["office_admin"])
    page = _text(c.get(f"/instructors/{profile.id}"))
    assert course.title in page and "로그인 계정은 별개입니다." in page
    r = c.post(f"/instructors/{profile.id}/deactivate", data={"csrf_token": c.csrf()})
    assert r.status_code == 302 and "로그인 계정은 그대로 남습니다." in _text(c.get(r.headers["Location"]))
    teacher = login(w["teacher"])
    assert f'value="{w["instructor"].id}"' not in _select(
        teacher.get("/courses/new").get_data(as_text=True), "instructor_id"
    )
    assert w["instructor"].name in _text(teacher.get(f"/courses/{course.id}"))
    pool = _text(c.get("/instructors"))
    assert "비활성 강사 1명" in pool
    assert w["instructor"].name not in _text(teacher.get("/instructors"))
    assert login(w["instructor"]).get("/").status_code == 200  # still logs in
    api = teacher.get("/api/v1/instructors").get_json()["items"]
    assert w["instructor"].id not in [i["id"] for i in api]
    c.post(f"/instructors/{profile.id}/reactivate", data={"csrf_token": c.csrf()})
    assert f'value="{w["instructor"].id}"' in _select(
        teacher.get("/courses/new").get_data(as_text=True), "instructor_id"
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("school_admin", 403),
        ("teacher", 403),
        ("instructor", 403),
        ("other_office_admin", 404),
        ("student", 403),
    ],
)
def test_only_the_offices_admins_manage_its_instructors(login, web_world, db_session, role, status):
    profile = _profile(db_session, web_world["external"])
    c = login(web_world[role])
    assert c.get(f"/instructors/{profile.id}").status_code == status
    for op in ("deactivate", "reactivate"):
        assert c.post(f"/instructors/{profile.id}/{op}", data={"csrf_token": c.csrf()}).status_code == status
    r = c.post(f"/instructors/{profile.id}", data={"affiliation": "탈취", "csrf_token": c.csrf()})
    assert r.status_code == status
    db_session.expire_all()
    profile = _profile(db_session, web_world["external"])
    assert profile.active and profile.affiliation is None
    assert f'href="/instructors/{profile.id}"' not in c.get("/instructors").get_data(as_text=True)


def test_editing_a_theme_changes_its_english_name_only_when_sent(login, web_world, db_session):
    theme = web_world.themes[0]
    c = login(web_world["office_admin"])
    form = {"name": theme.name, "description": "", "elements": "생활 안전", "csrf_token": c.csrf()}
    assert c.post(f"/admin/themes/{theme.id}", data=form).status_code == 302
    db_session.expire_all()
    assert db_session.get(Theme, theme.id).name_en == "Safety and health"
    assert c.post(f"/admin/themes/{theme.id}", data={**form, "name_en": "Safety"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(Theme, theme.id).name_en == "Safety"
