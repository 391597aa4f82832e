"""Daily use, tried as each role would in headless Chromium on a phone and on a desktop window.

Each role finds today's lesson from the home page in one click; a student and a parent get the enrolment
notice and both class-start reminders in the app and by e-mail (the test SMTP server receives them from the
server's own delivery thread, never from a request); a teacher fixes and resubmits a rejected request from
the notice that says why. (Password reset by the e-mailed link: tests/browser/test_password_reset.py.)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from courses.seed import SEOUL, first_lesson_later_today
from tests.browser.conftest import LiveServer, flask_command
from tests.browser.support import DESKTOP, PHONE, check_accessible
from tests.mail_support import SmtpSink, body

pytestmark = pytest.mark.browser
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


def _db(live_server: LiveServer) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(live_server.database_url)
    return engine, Session(engine, expire_on_commit=False)


def _users(s: Any, *names: str) -> dict[str, Any]:
    from sqlalchemy import select

    from courses.models import User

    return {u.username: u for u in s.scalars(select(User).where(User.username.in_(names)))}


# ── Today's lesson, one click from home ──────────────────────────────────────────────────────────────

# role → how the home page leads to today's lesson: the big 입장 button of the open live room, or the
# lesson's course (parents do not join classes).
ONE_CLICK = {
    "teacher1": ("button", r"/live/\d+$"),
    "student1": ("button", r"/live/\d+$"),
    "parent1": ("course", r"/courses/\d+$"),
    "admin1": ("button", r"/live/\d+$"),  # a school admin may look in on a class
    "instructor1": ("course", r"/courses/\d+$"),  # the office course they teach: its first lesson later today
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(ONE_CLICK))
def test_todays_lesson_is_one_click_from_home(
    page_as: Callable[..., Any], live_server: LiveServer, role: str, viewport: str
) -> None:
    if role == "instructor1":
        start = first_lesson_later_today(datetime.now(UTC))
        if start.astimezone(SEOUL).date() != datetime.now(UTC).astimezone(SEOUL).date():
            pytest.skip(
                "after about 23:05 in Seoul no demo lesson fits later today (the seed puts it tomorrow)"
            )
    page = page_as(role, viewport=VIEWPORTS[viewport], locale="ko")
    page.goto("/")
    today = page.get_by_role("region", name="오늘과 이번 주 수업")
    expect(today).to_be_visible()
    kind, target = ONE_CLICK[role]
    items = today.locator("li.agenda-item")
    if role == "instructor1":  # nothing open yet: today's lesson, listed under 오늘
        item = today.locator("li.agenda-day").filter(has_text="오늘").locator("li.agenda-item")
    else:  # the class on now: 입장, or for a parent the sign that it is on
        join_link = page.get_by_role("link", name=re.compile("^입장"))
        item = items.filter(has_text="지금 수업 중").or_(items.filter(has=join_link))
    expect(item.first).to_be_visible()
    if kind == "button":
        join = item.first.get_by_role("link", name=re.compile("^입장"))
        expect(join).to_have_class(re.compile(r"\bbig\b"))
        join.click()
    else:
        expect(item.first.get_by_role("link", name=re.compile("^입장"))).to_have_count(0)
        item.first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(target))
    check_accessible(page, f"{role} after one click from home ({viewport})")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_office_finds_a_schools_courses_from_its_home(
    page_as: Callable[..., Any], live_server: LiveServer, viewport: str
) -> None:
    """The office runs no lessons itself: its home leads to any school's courses with one search."""
    page = page_as("office", viewport=VIEWPORTS[viewport], locale="ko")
    page.goto("/")
    search = page.get_by_role("search", name="강좌 찾기")
    search.get_by_label("학교").select_option(label="이음초등학교")
    search.get_by_role("button", name="강좌 찾기").click()
    expect(page).to_have_url(re.compile(r"/courses/\?"))
    expect(page.get_by_role("table").get_by_role("row")).not_to_have_count(1)
    check_accessible(page, f"office course search ({viewport})")


# ── Notices: enrolled, starting in 10 minutes, starting now — in the app and by e-mail ─────────────────


@pytest.fixture()
def new_live_course(live_server: LiveServer) -> dict[str, Any]:
    """teacher1's class course with a live lesson starting in 8 minutes and one that started a minute ago,
    approved by admin1 and enrolled for 5학년 1반 through the services (as the pages would)."""
    from sqlalchemy import select

    from courses import enrolment, live, workflow
    from courses.delivery import outbox
    from courses.models import ChannelKind, ClassMembership, Lesson, MemberRole, SchoolClass, Theme

    engine, s = _db(live_server)
    # These services run here, not in the server: queue e-mail as the server (which has SMTP) would.
    channels = outbox.available_channels()
    outbox.configure([ChannelKind.email])
    try:
        u = _users(s, "teacher1", "admin1")
        cls = s.scalars(
            select(SchoolClass)
            .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
            .where(ClassMembership.user_id == u["teacher1"].id, ClassMembership.role == MemberRole.teacher)
        ).first()
        theme = s.scalars(select(Theme).where(Theme.active).order_by(Theme.position)).first()
        title = f"오늘의 안전 수업 {uuid.uuid4().hex[:4]}"
        course = workflow.submit_request(
            s,
            u["teacher1"],
            workflow.CourseInput(
                level="class",
                theme_id=theme.id,
                title=title,
                goals="위험을 알아차리고 대처한다.",
                delivery="live",
                lesson_count=2,
                hours=2,
                start_date=date.today(),
                end_date=date.today() + timedelta(days=7),
                instructor_mode="homeroom",
                class_id=cls.id,
            ),
        )
        workflow.approve(s, u["admin1"], course, "좋습니다")
        now = datetime.now(UTC)
        lessons = list(s.scalars(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.number)))
        for lesson, start in zip(
            lessons, (now + timedelta(minutes=8), now - timedelta(minutes=1)), strict=True
        ):
            workflow.update_lesson(
                s,
                u["teacher1"],
                course,
                lesson.id,
                title=lesson.title,
                starts_at=start,
                ends_at=start + timedelta(minutes=40),
                description="",
            )
            live.sync_live_session(s, lesson)
        s.commit()
        enrolment.enrol_group(s, u["teacher1"], course, school_id=cls.school_id, class_id=cls.id)
        s.commit()
        return {"id": course.id, "title": title}
    finally:
        outbox.configure(channels)
        s.close()
        engine.dispose()


def test_a_student_and_a_parent_are_told_in_the_app_and_by_mail(
    page_as: Callable[..., Any], live_server: LiveServer, mail_sink: SmtpSink, new_live_course: dict[str, Any]
) -> None:
    title = new_live_course["title"]
    flask_command(live_server, "send-reminders")  # as cron or the worker's sweep would, every minute

    def mail_about(address: str, subject: str) -> Any:
        return mail_sink.wait_until(
            lambda m: address in str(m["To"]) and str(m["Subject"]) == subject and title in body(m),
            timeout_s=30,
        )

    for who in ("student1", "parent1"):
        address = f"{who}@ieum.example"
        assert mail_about(address, "[이음] 강좌에 등록되었습니다"), f"no enrolment mail to {address}"
        soon = mail_about(address, "[이음] 10분 뒤 실시간 수업이 시작됩니다")
        now = mail_about(address, "[이음] 실시간 수업이 지금 시작됩니다")
        assert soon and now, f"{address}: soon={bool(soon)} now={bool(now)}"
        assert re.search(re.escape(live_server.url) + r"/live/\d+", body(now)), body(now)

        for viewport in VIEWPORTS.values():
            page = page_as(who, viewport=viewport, locale="ko")
            page.goto("/")
            page.get_by_role("link", name=re.compile("^알림")).click()
            notices = page.get_by_role("main").get_by_role("listitem")
            for notice in (
                "강좌에 등록되었습니다",
                "10분 뒤 실시간 수업이 시작됩니다",
                "실시간 수업이 지금 시작됩니다",
            ):
                expect(notices.filter(has_text=notice).filter(has_text=title).first).to_be_visible()
            check_accessible(page, f"{who} notifications")
        if who == "student1":
            page.get_by_role("main").get_by_role("listitem").filter(has_text="지금 시작됩니다").filter(
                has_text=title
            ).first.get_by_role("link").click()
            expect(page).to_have_url(re.compile(r"/live/\d+$"))


# ── A rejected request, fixed and sent again ─────────────────────────────────────────────────────────


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_teacher_resubmits_a_rejected_request(
    page_as: Callable[..., Any], live_server: LiveServer, viewport: str
) -> None:
    from sqlalchemy import select

    from courses import workflow
    from courses.models import ClassMembership, MemberRole, SchoolClass, Theme

    engine, s = _db(live_server)
    try:
        u = _users(s, "teacher1", "admin1")
        cls = s.scalars(
            select(SchoolClass)
            .join(ClassMembership, ClassMembership.class_id == SchoolClass.id)
            .where(ClassMembership.user_id == u["teacher1"].id, ClassMembership.role == MemberRole.teacher)
        ).first()
        theme = s.scalars(select(Theme).where(Theme.active).order_by(Theme.position)).first()
        title = f"반려될 요청 {uuid.uuid4().hex[:4]}"
        start = date.today() + timedelta(days=14)
        course = workflow.submit_request(
            s,
            u["teacher1"],
            workflow.CourseInput(
                level="class",
                theme_id=theme.id,
                title=title,
                goals="목표",
                delivery="live",
                lesson_count=2,
                hours=2,
                start_date=start,
                end_date=start + timedelta(days=7),
                instructor_mode="homeroom",
                class_id=cls.id,
            ),
        )
        workflow.reject(s, u["admin1"], course, "목표를 구체적으로 적어 주세요.")
        s.commit()
    finally:
        s.close()
        engine.dispose()

    teacher = page_as("teacher1", viewport=VIEWPORTS[viewport], locale="ko")
    teacher.goto("/notifications")
    notice = teacher.get_by_role("main").get_by_role("listitem").filter(has_text=title).first
    expect(notice).to_contain_text("목표를 구체적으로 적어 주세요.")
    notice.get_by_role("link").first.click()
    teacher.get_by_role("link", name="고쳐서 다시 요청하기").click()
    check_accessible(teacher, f"rejected request edit ({viewport})")
    goals = teacher.get_by_label("목표")
    expect(goals).to_have_value("목표")
    goals.fill("우리 동네의 위험한 곳을 찾아 지도로 만들고, 안전하게 다니는 방법을 발표한다.")
    teacher.get_by_role("button", name="고쳐서 다시 요청하기").click()
    expect(teacher).to_have_url(re.compile(r"/courses/\d+$"))
    expect(teacher.locator("main .status").first).to_have_text("승인 대기")

    admin = page_as("admin1", viewport=VIEWPORTS[viewport], locale="ko")
    admin.goto("/")
    pending = admin.get_by_role("region", name=re.compile("^승인 대기"))
    expect(pending.get_by_role("row").filter(has_text=title)).to_contain_text("김민준")
