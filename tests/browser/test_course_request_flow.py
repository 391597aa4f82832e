"""The issue's acceptance test, in headless Chromium against the real server.

A teacher requests a class-level course for 5학년 1반 through the form, the school admin approves it from their
home page, the teacher enrols the class, and a student of that class finds the course on their home page and
opens it. Everything the teacher does is done with the keyboard alone (Tab, Shift+Tab, arrows, Space, Enter,
typing) to prove the flow works without a mouse. axe-core checks every page on the way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    check_accessible,
    is_focused,
    keyboard_login,
    keyboard_set_locale,
    login,
    set_locale,
    tab_to,
    type_date,
)

pytestmark = pytest.mark.browser


def test_teacher_requests_admin_approves_teacher_enrols_student_sees(
    new_context: Callable[..., Any], date_order: str
) -> None:
    title = f"기후 행동 프로젝트 {uuid.uuid4().hex[:6]}"
    start = date.today() + timedelta(days=14)
    end = start + timedelta(days=28)

    # 1. The teacher requests the course — keyboard only from here to the detail page.
    teacher = new_context().new_page()
    keyboard_login(teacher, "teacher1")
    keyboard_set_locale(teacher, "ko")  # an earlier test may have saved English as teacher1's choice
    check_accessible(teacher, "teacher home")
    tab_to(teacher, teacher.get_by_role("link", name="강좌 요청하기"))
    with teacher.expect_navigation():
        teacher.keyboard.press("Enter")
    expect(teacher).to_have_url(re.compile(r"/courses/new$"))
    check_accessible(teacher, "course request form")

    # A teacher can request class courses only, for their one class: both are said, not offered as choices.
    expect(teacher.get_by_role("radio", name="학급 단위")).to_have_count(0)
    expect(teacher.locator(".static-field").first).to_have_text("요청 단위: 학급 단위")

    theme = teacher.get_by_label("주제", exact=True)
    tab_to(teacher, theme)
    teacher.keyboard.press("ArrowDown")  # the first theme
    chosen_theme = theme.evaluate("s => s.selectedOptions[0].text")
    assert theme.input_value() != "", "ArrowDown on the theme list chose nothing"

    tab_to(teacher, teacher.get_by_label("강좌명"))
    teacher.keyboard.type(title)
    tab_to(teacher, teacher.get_by_label("목표"))
    teacher.keyboard.type("우리 학교의 탄소 발자국을 재고 줄이는 방법을 실천한다.")
    # Shift+Tab back to the title: what was typed is still there.
    tab_to(teacher, teacher.get_by_label("강좌명"), backwards=True)
    expect(teacher.get_by_label("강좌명")).to_have_value(title)

    live = teacher.get_by_role("radio", name="실시간 쌍방향")
    tab_to(teacher, live)  # Tab enters a radio group on its checked button
    teacher.keyboard.press("ArrowDown")
    teacher.keyboard.press("ArrowDown")
    expect(teacher.get_by_role("radio", name="혼합")).to_be_checked()

    tab_to(teacher, teacher.get_by_label("수업 횟수"))
    teacher.keyboard.type("4")
    tab_to(teacher, teacher.get_by_label("차시 (총 수업시수)"))
    teacher.keyboard.type("8")
    tab_to(teacher, teacher.get_by_label("시작일"))
    type_date(teacher, date_order, start.isoformat())
    tab_to(teacher, teacher.get_by_label("종료일"))
    type_date(teacher, date_order, end.isoformat())
    expect(teacher.get_by_label("시작일")).to_have_value(start.isoformat())
    expect(teacher.get_by_label("종료일")).to_have_value(end.isoformat())
    tab_to(teacher, teacher.get_by_label(re.compile("^일정 메모")))
    teacher.keyboard.type("매주 목 6교시")

    expect(teacher.locator(".static-field", has_text="대상 학급")).to_have_text("대상 학급: 5학년 1반")
    # The lesson count made a row of date and times per lesson.
    expect(teacher.locator("#lesson-rows fieldset")).to_have_count(4)

    tab_to(teacher, teacher.get_by_role("radio", name="교육청 제공 강사"))
    for _ in range(3):  # 교육청 제공 강사 → 외부 강사 → 학교 지정 교사 → 담임 교사
        teacher.keyboard.press("ArrowDown")
    expect(teacher.get_by_role("radio", name="담임 교사")).to_be_checked()

    tab_to(teacher, teacher.get_by_role("button", name="요청하기"))
    with teacher.expect_navigation():
        teacher.keyboard.press("Enter")
    expect(teacher).to_have_url(re.compile(r"/courses/\d+$"))
    course_url = teacher.url
    expect(teacher.get_by_role("heading", level=1)).to_contain_text(title)
    expect(teacher.get_by_role("status")).to_contain_text("강좌를 요청했습니다")
    expect(teacher.locator("h1 .status")).to_have_text("승인 대기")
    expect(teacher.locator(".facts")).to_contain_text(chosen_theme)
    expect(teacher.locator(".facts")).to_contain_text("5학년 1반")
    check_accessible(teacher, "course detail (requester, pending)")
    teacher.context.close()

    # 2. The school admin finds it on their home page and approves it.
    admin = new_context().new_page()
    login(admin, "admin1")
    set_locale(admin, "ko")
    check_accessible(admin, "school admin home")
    pending = admin.get_by_role("table", name="승인을 기다리는 요청")
    pending.get_by_role("link", name=title).click()
    expect(admin).to_have_url(course_url)
    check_accessible(admin, "course detail (approver)")
    admin.get_by_label("승인 메모 (선택)").fill("학년 협의회에서 검토했습니다.")
    admin.get_by_role("button", name="승인", exact=True).click()
    expect(admin.get_by_role("status")).to_contain_text("승인했습니다.")
    expect(admin.locator("h1 .status")).to_have_text("승인됨")
    check_accessible(admin, "course detail (approver, approved)")
    admin.context.close()

    # 3. The teacher enrols the class — keyboard only again.
    teacher = new_context().new_page()
    keyboard_login(teacher, "teacher1")
    keyboard_set_locale(teacher, "ko")
    mine = teacher.get_by_role("table", name="내가 요청한 강좌")
    expect(mine.get_by_role("row", name=re.compile(re.escape(title)))).to_contain_text("승인됨")
    tab_to(teacher, mine.get_by_role("link", name=title))
    with teacher.expect_navigation():
        teacher.keyboard.press("Enter")
    expect(teacher).to_have_url(course_url)
    check_accessible(teacher, "course detail (requester, approved)")
    tab_to(teacher, teacher.get_by_role("link", name="수강생 관리"))
    with teacher.expect_navigation():
        teacher.keyboard.press("Enter")
    expect(teacher).to_have_url(re.compile(r"/courses/\d+/enrolment$"))
    check_accessible(teacher, "enrolment page (empty)")
    enrol_class = teacher.get_by_role("button", name="5학년 1반 등록")
    tab_to(teacher, enrol_class)
    with teacher.expect_navigation():
        teacher.keyboard.press("Space")
    expect(teacher.get_by_role("status")).to_contain_text(re.compile(r"[1-9]\d*명을 등록했습니다"))
    students = teacher.get_by_role("table", name="수강생 목록")
    expect(students.get_by_role("row")).not_to_have_count(1)
    check_accessible(teacher, "enrolment page (class enrolled)")
    teacher.context.close()

    # 4. A student of 5학년 1반 sees the course on their home page and opens it.
    student = new_context().new_page()
    login(student, "student1")
    set_locale(student, "ko")
    check_accessible(student, "student home")
    student.get_by_role("table", name="수강 중인 강좌").get_by_role("link", name=title).click()
    expect(student).to_have_url(course_url)
    expect(student.get_by_role("heading", level=1)).to_contain_text(title)
    expect(student.locator("h1 .status")).to_have_text("승인됨")
    check_accessible(student, "course detail (student)")


def test_request_form_errors_are_shown_kept_and_announced(page_as: Callable[..., Any]) -> None:
    page = page_as("teacher1", locale="ko")
    page.goto("/courses/new")
    start = date.today() + timedelta(days=10)
    end = start - timedelta(days=3)
    goals = "안전하게 실험하는 방법을 익힌다."
    page.get_by_label("주제", exact=True).select_option(index=1)
    page.get_by_label("목표").fill(goals)
    page.get_by_label("수업 횟수").fill("3")
    page.get_by_label("차시 (총 수업시수)").fill("0")
    page.get_by_label("시작일").fill(start.isoformat())
    page.get_by_label("종료일").fill(end.isoformat())
    page.get_by_label(re.compile("^일정 메모")).fill("매주 금 3교시")
    lesson2 = page.get_by_role("group", name="2차시")
    lesson2.get_by_label("날짜").fill((start + timedelta(days=1)).isoformat())
    lesson2.get_by_label("시작 시각").fill("10:00")
    lesson2.get_by_label("종료 시각").fill("09:15")
    page.get_by_role("radio", name="녹화 강의").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="요청하기").click()
    assert answer.value.status == 422

    # The summary is announced (role=alert) and takes the focus.
    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("입력값을 확인해 주세요.")
    expect(summary).to_be_focused()

    # Each error sits next to its field, which is marked invalid and described by it.
    for label, field_id, message in [
        ("강좌명", "title", "제목은"),
        ("차시 (총 수업시수)", "hours", "차시는"),
        ("종료일", "end_date", "종료일은 시작일 이후"),
        ("종료 시각", "lesson_end_2", "2차시 종료 시각: 시작보다 늦어야 합니다."),
    ]:
        field = page.locator(f"#{field_id}")
        expect(field).to_have_accessible_name(label)
        error = page.locator(f"#{field_id}-error")
        expect(error).to_contain_text(message)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(re.escape(message)))
        expect(summary.get_by_role("link", name=re.compile(re.escape(message)))).to_have_attribute(
            "href", f"#{field_id}"
        )
        follows = field.evaluate(
            "(el, id) => { let n = el.nextElementSibling; return !!n && n.id === id; }", f"{field_id}-error"
        )
        assert follows, f"the error for {field_id} is not right after its field"

    # What was typed is kept.
    expect(page.get_by_label("강좌명")).to_have_value("")
    expect(page.get_by_label("목표")).to_have_value(goals)
    expect(page.get_by_label("수업 횟수")).to_have_value("3")
    expect(page.get_by_label("차시 (총 수업시수)")).to_have_value("0")
    expect(page.get_by_label("시작일")).to_have_value(start.isoformat())
    expect(page.get_by_label("종료일")).to_have_value(end.isoformat())
    expect(page.get_by_label(re.compile("^일정 메모"))).to_have_value("매주 금 3교시")
    expect(page.get_by_label("주제", exact=True)).not_to_have_value("")
    expect(page.get_by_role("radio", name="녹화 강의")).to_be_checked()
    expect(page.locator("#lesson_start_2")).to_have_value("10:00")
    expect(page.locator("#lesson_end_2")).to_have_value("09:15")
    expect(page.locator("#lesson-rows fieldset")).to_have_count(3)
    check_accessible(page, "course request form with errors")

    # From the summary, the keyboard reaches a field in one step: Tab to its link, Enter.
    link = summary.get_by_role("link", name=re.compile("차시는"))
    tab_to(page, link)
    page.keyboard.press("Enter")
    assert is_focused(page.get_by_label("차시 (총 수업시수)")), (
        "the summary link did not move focus to its field"
    )


def test_the_request_form_offers_what_fits_the_choices_made(page_as: Callable[..., Any]) -> None:
    """Content elements follow the theme, instructors the instructor type and theme; a homeroom course needs no pick."""
    page = page_as("admin1", locale="ko")
    page.goto("/courses/new")
    element = page.locator("#content_element_id")
    expect(element).to_be_disabled()
    expect(page.locator("#content_element_id-hint")).to_have_text("주제를 먼저 선택하세요.")
    theme = page.get_by_label("주제", exact=True)
    theme.select_option(label="안전·건강")
    expect(element).to_be_enabled()
    offered = element.locator("option").all_inner_texts()
    assert offered[0] == "선택하세요" and "교통 안전" in offered and "효" not in offered, offered
    element.select_option(label="교통 안전")
    theme.select_option(label="인성")
    expect(element).to_have_value("")  # an element of the other theme is not kept
    assert "효" in element.locator("option").all_inner_texts()

    instructor = page.locator("#instructor_id")
    page.get_by_role("radio", name="학교 지정 교사").check()
    kinds = instructor.locator("option[data-kind]").evaluate_all("os => os.map(o => o.dataset.kind)")
    assert kinds and set(kinds) == {"teacher"}, kinds
    page.get_by_role("radio", name="교육청 제공 강사").check()
    kinds = instructor.locator("option[data-kind]").evaluate_all("os => os.map(o => o.dataset.kind)")
    assert set(kinds) <= {"office"}, kinds
    page.get_by_role("radio", name="담임 교사").check()
    expect(instructor).to_be_hidden()
    expect(page.locator("#instructor_id-hint")).to_have_text("담임 교사가 강사가 됩니다.")

    # Only the fields of the chosen level.
    page.get_by_role("radio", name="학급 단위").check()
    expect(page.locator("#class_id")).to_be_visible()
    expect(page.locator("#targets")).to_be_hidden()
    page.get_by_role("radio", name="학교 단위").check()
    expect(page.locator("#class_id")).to_be_hidden()
    expect(page.locator("#targets")).to_be_visible()

    # Lesson rows follow the count; a filled row is kept when the count drops.
    count = page.get_by_label("수업 횟수")
    count.fill("3")
    expect(page.locator("#lesson-rows fieldset")).to_have_count(3)
    page.locator("#lesson_start_3").fill("09:00")
    count.fill("1")
    expect(page.locator("#lesson-rows fieldset")).to_have_count(3)
    page.locator("#lesson_start_3").fill("")
    count.fill("1")
    expect(page.locator("#lesson-rows fieldset")).to_have_count(1)
    check_accessible(page, "course request form, guided")
