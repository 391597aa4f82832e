"""axe-core (WCAG 2.0/2.1 A and AA) on every page the browser tests visit, in Korean and English, on a
desktop and a phone viewport. Any violation fails, listing its id, help and the offending nodes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.support import DESKTOP, PHONE, axe_violations, format_violations

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Scenario:
    """Courses in known states, made once per server through the domain services."""

    pending_id: int  # teacher1's class course waiting for admin1
    approved_id: int  # teacher1's class course, approved, 5학년 1반 enrolled
    theme_id: int
    live_id: int  # the demo's live session of its running course (courses.seed), open now
    finished_id: int  # the demo's course that ran last month and awaits admin1's confirmation
    ended_live_id: int  # one of that course's live sessions (ended)
    instructor_profile_id: int  # instructor1's place in the pool


@pytest.fixture(scope="session")
def scenario(live_server: Any) -> Scenario:
    """A submitted and an approved-and-enrolled class course of teacher1's, so every view has content."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from courses import enrolment, workflow
    from courses.models import (
        ClassMembership,
        Course,
        InstructorProfile,
        LiveSession,
        MemberRole,
        SchoolClass,
        Theme,
        User,
    )
    from courses.seed import DEMO_FINISHED_TITLE, DEMO_LIVE_TITLE

    engine = create_engine(live_server.database_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            users = {
                u.username: u
                for u in s.scalars(select(User).where(User.username.in_(["teacher1", "admin1"])))
            }
            teacher, admin = users["teacher1"], users["admin1"]
            cls = s.scalars(
                select(SchoolClass)
                .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
                .where(ClassMembership.user_id == teacher.id, ClassMembership.role == MemberRole.teacher)
            ).first()
            assert cls is not None, "teacher1 has no homeroom class in the demo data"
            theme = s.scalars(select(Theme).where(Theme.active).order_by(Theme.position)).first()
            assert theme is not None
            start = date.today() + timedelta(days=7)

            def request(title: str) -> Any:
                return workflow.submit_request(
                    s,
                    teacher,
                    workflow.CourseInput(
                        level="class",
                        theme_id=theme.id,
                        title=title,
                        goals="자신의 감정을 알아차리고 표현한다.",
                        delivery="blended",
                        lesson_count=2,
                        hours=4,
                        start_date=start,
                        end_date=start + timedelta(days=21),
                        instructor_mode="homeroom",
                        class_id=cls.id,
                        schedule_note="매주 화 5교시",
                    ),
                )

            pending = request("감정 코칭 교실 (검토 중)")
            approved = request("생활 안전 교실 (운영 예정)")
            workflow.approve(s, admin, approved, "좋습니다")
            enrolment.enrol_group(s, teacher, approved, school_id=cls.school_id, class_id=cls.id)
            s.commit()
            live_id = s.scalars(
                select(LiveSession.id)
                .join(Course, Course.id == LiveSession.course_id)
                .where(Course.title == DEMO_LIVE_TITLE)
            ).first()
            assert live_id is not None, "the demo seed has no live session"
            finished_id = s.scalars(select(Course.id).where(Course.title == DEMO_FINISHED_TITLE)).one()
            ended_live_id = s.scalars(
                select(LiveSession.id).where(LiveSession.course_id == finished_id).order_by(LiveSession.id)
            ).first()
            assert ended_live_id is not None, "the demo's finished course has no live session"
            profile_id = s.scalars(
                select(InstructorProfile.id)
                .join(User, User.id == InstructorProfile.user_id)
                .where(User.username == "instructor1")
            ).one()
            return Scenario(
                pending_id=pending.id,
                approved_id=approved.id,
                theme_id=theme.id,
                live_id=live_id,
                finished_id=finished_id,
                ended_live_id=ended_live_id,
                instructor_profile_id=profile_id,
            )
    finally:
        engine.dispose()


def submit_bad_request(page: Any) -> None:
    """Open the request form and submit it with a zero hour count, the end before the start and no title."""
    page.goto("/courses/new")
    page.locator("#theme_id").select_option(index=1)
    if page.locator("select#class_id").count():  # a teacher of one class sees it as text
        page.locator("select#class_id").select_option(index=1)
    page.locator("#lesson_count").fill("2")
    page.locator("#lesson_date_2").fill((date.today() + timedelta(days=10)).isoformat())
    page.locator("#lesson_start_2").fill("10:00")
    page.locator("#lesson_end_2").fill("09:00")
    page.locator("#hours").fill("0")
    page.locator("#start_date").fill((date.today() + timedelta(days=10)).isoformat())
    page.locator("#end_date").fill((date.today() + timedelta(days=5)).isoformat())
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.locator("form.stack button[type=submit]").click()
    page.wait_for_selector("#error-summary")


def own_transcript(page: Any) -> None:
    """A student's record, from the link in the menu."""
    page.goto("/")
    page.locator("nav a[href$='/transcript']").click()
    page.wait_for_url("**/transcript")


def childs_transcript(page: Any) -> None:
    """A parent's child's record, from the link on the home page."""
    page.goto("/")
    page.locator("main a[href$='/transcript']").first.click()
    page.wait_for_url("**/transcript")


def _student1_page(page: Any) -> None:
    page.goto("/admin/people?role=student&q=student1")
    page.locator("main tr:has(span.hint:text-is('student1')) a").first.click()
    page.wait_for_url(re.compile(r".*/admin/people/\d+$"))


def student_page_with_parent_search(page: Any) -> None:
    """A student's page from the people list (class, parents, moving), then a search for a parent."""
    _student1_page(page)
    page.locator("#link_q").fill("parent")
    page.locator("#link_q").press("Enter")
    page.wait_for_selector("#cand-caption")


def person_edit_with_errors(page: Any) -> None:
    """The student's page after saving an empty name and a bad e-mail address."""
    _student1_page(page)
    page.locator("#name").fill("")
    page.locator("#email").fill("not-an-address")
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.locator("#name").press("Enter")
    page.wait_for_selector("#error-summary")


def unlink_confirmation(page: Any) -> None:
    """The question before a parent's link to a child is removed."""
    _student1_page(page)
    page.locator("main a[href$='/remove']").first.click()
    page.wait_for_url("**/remove")


def people_of_one_school(page: Any) -> None:
    """The office's people list narrowed to a school, with its grade and class filters."""
    page.goto("/admin/people")
    page.locator("#school_id").select_option(index=1)
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_selector("#class_id")


def wait_for_charts(page: Any) -> None:
    """Every chart on the page is drawn."""
    page.wait_for_function(
        "() => window.Chart && [...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))"
    )


def wait_for_chart(page: Any) -> None:
    """The report's chart is drawn (chart.js loaded and a chart attached to the canvas)."""
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('report-chart'))")


# role → the pages it visits: (name, path or a function that drives the page there, what to wait for)
Visit = tuple[str, "str | Callable[[Any], None]", "Callable[[Any], None] | None"]


def pages_for(role: str, sc: Scenario) -> list[Visit]:
    pending, approved = f"/courses/{sc.pending_id}", f"/courses/{sc.approved_id}"
    room, attendance = f"/live/{sc.live_id}", f"/live/{sc.live_id}/attendance"
    return {
        "anonymous": [
            ("login", "/login", None),
            ("404 (logged out)", "/no-such-page", None),
            ("forgotten password", "/password/forgot", None),
            ("password reset link not valid", "/password/reset/not-a-link-we-made", None),
        ],
        "office": [
            ("home", "/", None),
            ("courses", "/courses/", None),
            ("courses found by title and theme", f"/courses/?q=%EC%95%88&theme_id={sc.theme_id}", None),
            ("themes", "/themes", None),
            ("theme edit", f"/admin/themes/{sc.theme_id}", None),
            ("theme add", "/admin/themes/new", None),
            ("instructors", "/instructors", None),
            ("instructor edit", f"/instructors/{sc.instructor_profile_id}", None),
            ("reports/enrolment", "/reports/enrolment", wait_for_chart),
            ("notifications", "/notifications", None),
            ("course request form (office)", "/courses/new", None),
            ("live attendance (office)", attendance, wait_for_chart),
            ("people", "/admin/people", None),
            ("people of one school", people_of_one_school, None),
            ("access log", "/admin/audit", None),
            ("API tokens", "/admin/api-tokens", None),
            ("my account", "/account", None),
            ("completion statistics (office)", "/reports/completion", wait_for_charts),
            ("course completion (office)", f"/courses/{sc.finished_id}/completion", wait_for_charts),
            ("instructor fees", "/fees/", None),
            ("course evaluation comparison", "/evaluation/compare", None),
        ],
        "admin1": [
            ("home", "/", None),
            ("course detail (approver, pending)", pending, None),
            ("course detail (approver, approved)", approved, None),
            ("courses", "/courses/", None),
            ("course request form (school)", "/courses/new", None),
            ("reports/enrolment", "/reports/enrolment", wait_for_chart),
            ("notifications", "/notifications", None),
            ("people (school)", "/admin/people?q=학생", None),
            ("people (school, one class)", "/admin/people?grade=5&role=student", None),
            ("a student's page with a parent search", student_page_with_parent_search, None),
            ("a student's page with errors", person_edit_with_errors, None),
            ("unlinking a parent", unlink_confirmation, None),
            ("completion statistics (school)", "/reports/completion", wait_for_charts),
            ("completion confirmation", f"/courses/{sc.finished_id}/completion/confirm", wait_for_charts),
        ],
        "teacher1": [
            ("home", "/", None),
            ("courses", "/courses/", None),
            ("course request form", "/courses/new", None),
            ("course request form with errors", submit_bad_request, None),
            ("course detail (requester, pending)", pending, None),
            ("course detail (requester, approved)", approved, None),
            ("enrolment", f"{approved}/enrolment", None),
            ("enrolment (not yet approved)", f"{pending}/enrolment", None),
            ("live room (teacher, before joining)", room, None),
            ("live attendance", attendance, wait_for_chart),
            ("notifications", "/notifications", None),
            ("themes", "/themes", None),
            ("instructors", "/instructors", None),
            ("404", "/courses/999999", None),
            ("course completion (teacher)", f"/courses/{sc.finished_id}/completion", wait_for_charts),
            ("course request copied for next term", f"{approved}/copy", None),
            ("course detail (finished, teacher)", f"/courses/{sc.finished_id}", None),
        ],
        "student1": [
            ("home", "/", None),
            ("course detail (student)", approved, None),
            ("live room (student, before joining)", room, None),
            ("courses", "/courses/", None),
            ("themes", "/themes", None),
            ("notifications", "/notifications", None),
            ("course detail (finished, student)", f"/courses/{sc.finished_id}", None),
            ("live room after the class ended", f"/live/{sc.ended_live_id}", None),
            ("own learning record", own_transcript, None),
        ],
        "parent1": [
            ("home", "/", None),
            ("course detail (parent)", approved, None),
            ("course detail (finished, parent)", f"/courses/{sc.finished_id}", None),
            ("child's learning record", childs_transcript, None),
            ("my account", "/account", None),
        ],
        "instructor1": [("home", "/", None), ("themes", "/themes", None)],
    }[role]


ROLES = ["anonymous", "office", "admin1", "teacher1", "student1", "parent1", "instructor1"]
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ko", "en"])
@pytest.mark.parametrize("role", ROLES)
def test_pages_have_no_axe_violations(
    page_as: Callable[..., Any], scenario: Scenario, role: str, locale: str, viewport: str
) -> None:
    page = page_as(None if role == "anonymous" else role, viewport=VIEWPORTS[viewport], locale=locale)
    problems: list[str] = []
    for name, target, ready in pages_for(role, scenario):
        if callable(target):
            target(page)
        else:
            response = page.goto(target)
            assert response is not None and response.status < 500, (
                f"{target}: HTTP {response and response.status}"
            )
        if ready is not None:
            ready(page)
        assert page.locator("html").get_attribute("lang") == locale, f"{name}: the page is not in {locale}"
        where = f"{role} · {name} · {locale} · {viewport} ({page.url})"
        violations = axe_violations(page)
        if violations:
            problems.append(format_violations(where, violations))
        if viewport == "phone":
            overflow = page.evaluate(REFLOW_JS)
            if overflow:
                problems.append(f"{where}: wider than the phone screen (WCAG 1.4.10 reflow): {overflow}")
    assert not problems, "\n\n".join(problems)


# Elements that stick out past the right edge of the viewport, other than inside a scrolling table wrapper.
REFLOW_JS = """() => {
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= w) return [];
  return [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-wrap'))
    .slice(0, 5).map(el => el.outerHTML.slice(0, 120));
}"""


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("locale", ["ko", "en"])
def test_import_page_has_no_axe_violations(page_as: Callable[..., Any], locale: str, viewport: str) -> None:
    page = page_as("office", viewport=VIEWPORTS[viewport], locale=locale)
    response = page.goto("/admin/import")
    assert response is not None and response.status < 500, (
        f"/admin/import: HTTP {response and response.status}"
    )
    violations = axe_violations(page)
    assert not violations, format_violations(f"office · import · {locale} · {viewport}", violations)


def test_axe_finds_a_planted_violation(page_as: Callable[..., Any]) -> None:
    """Guards the guard: an unlabelled field and low-contrast text are reported."""
    page = page_as(None)
    # Through the CSSOM: the Content-Security-Policy (rightly) drops a planted style="" attribute.
    page.evaluate("""() => { const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend', '<input id="planted"><p id="faint">흐린 글씨</p>');
        document.getElementById('faint').style.color = '#ccc'; }""")
    ids = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= ids, ids


HANGUL = "[\uac00-\ud7a3]"


def test_english_interface_is_in_english(page_as: Callable[..., Any]) -> None:
    """WCAG 3.1.1: after the switch the interface's own words (not people's or schools' names) are English."""
    page = page_as(None, locale="en")
    chrome = [page.get_by_role("heading", level=1), page.locator("label"), page.get_by_role("button")]
    page = page_as("teacher1", locale="en")
    chrome += [page.get_by_role("navigation").get_by_role("link"), page.get_by_role("heading", level=2)]
    texts = [
        t
        for loc in chrome
        for t in loc.evaluate_all("els => els.filter(e => !e.closest('[lang=ko]')).map(e => e.innerText)")
    ]  # 한국어 is rightly Korean
    korean = [t for t in texts if re.search(HANGUL, t)]
    assert not korean, f"Korean text on English pages: {korean}"
