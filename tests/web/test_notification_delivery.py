"""E-mail and SMS notices end to end: a request writes the outbox (and announces a delivery job) but sends
nothing; the job sends, through a real SMTP server on loopback; each person's preferences (the account page)
decide what reaches them where — parents by their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.delivery import use_channels
from courses import workflow
from courses.delivery.channels import Recipient, SmsChannel
from courses.models import (
    ChannelKind,
    Course,
    NoticeCategory,
    NotificationPreference,
    OutboxMessage,
    OutboxStatus,
)
from tests.factories import course_input
from tests.live_support import live_course
from tests.mail_support import body, run_delivery_job, run_reminder_scan


@pytest.fixture()
def addressed(web_world, db_session):  # type: ignore[no-untyped-def]
    """The class's first student and their parent have e-mail addresses."""
    web_world["student"].email = "student@school.test"
    web_world["parent"].email = "parent@home.test"
    db_session.commit()
    return web_world


def _approved(db_session, world) -> Course:  # type: ignore[no-untyped-def]
    course = workflow.submit_request(
        db_session, world["teacher"], course_input(world, title="교통 안전 교실")
    )
    workflow.approve(db_session, world["school_admin"], course)
    db_session.commit()
    return course


def _enrol_class(login, world, course: Course):  # type: ignore[no-untyped-def]
    teacher = login(world["teacher"])
    r = teacher.post(
        f"/courses/{course.id}/enrolment",
        data={
            "op": "group",
            "school_id": world.school.id,
            "class_id": world.cls.id,
            "csrf_token": teacher.csrf(),
        },
    )
    assert r.status_code == 302
    return teacher


def test_enrolment_mails_leave_from_the_job_never_from_the_request(
    app, login, addressed, db_session, smtp_server
) -> None:
    course = _approved(db_session, addressed)
    app.extensions["jobs"].drain_jobs("deliver")
    _enrol_class(login, addressed, course)
    assert smtp_server.messages == []  # the request sent nothing (and could not: the fixture forbids it)
    assert app.extensions["jobs"].drain_jobs("deliver") == [()]  # it announced one delivery job
    pending = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.pending)
    ).all()
    assert {r.user_id for r in pending} == {addressed["student"].id, addressed["parent"].id}

    report = run_delivery_job(app)
    assert (report.sent, report.failed) == (2, 0)
    mail = smtp_server.to("parent@home.test")[0]
    assert mail["Subject"] == "[이음] 강좌에 등록되었습니다"
    text = body(mail)
    assert text.startswith("parent님, 이음 알림입니다.\n\n강좌에 등록되었습니다\n교통 안전 교실\n")
    assert f"바로 가기: http://127.0.0.1:5000/courses/{course.id}\n" in text
    assert "http://127.0.0.1:5000/account#notify-h" in text
    assert len(smtp_server.to("student@school.test")) == 1
    assert run_delivery_job(app).sent == 0  # sent once: a second run finds nothing
    assert len(smtp_server.messages) == 2


def test_a_mail_is_written_in_the_recipients_language(app, login, addressed, db_session, smtp_server) -> None:
    addressed["parent"].locale = "en"
    db_session.commit()
    _enrol_class(login, addressed, _approved(db_session, addressed))
    run_delivery_job(app)
    [mail] = smtp_server.to("parent@home.test")
    assert mail["Subject"] == "[Ieum] You have been enrolled in a course"
    assert body(mail).startswith("Hello parent, a notification from Ieum.\n")
    assert smtp_server.to("student@school.test")[0]["Subject"] == "[이음] 강좌에 등록되었습니다"


def test_each_person_chooses_on_the_account_page_and_a_parent_by_their_own(
    app, login, addressed, db_session, smtp_server
) -> None:
    parent = login(addressed["parent"])
    page = parent.get("/account").get_data(as_text=True)
    assert 'id="notify-h"' in page and 'name="email-enrolment"' in page and "checked" in page
    assert "자녀의 강좌 알림도 여기에서 고른 대로 받습니다." in page
    assert 'name="sms-enrolment"' not in page  # no messaging service configured: not offered
    form = {"email-reminder": "1", "email-reschedule": "1", "email-completion": "1"}  # enrolment: off
    r = parent.post("/account/notifications", data={**form, "csrf_token": parent.csrf()})
    assert r.status_code == 302 and r.headers["Location"].endswith("/account#notify-h")
    saved = db_session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == addressed["parent"].id,
            NotificationPreference.category == NoticeCategory.enrolment,
        )
    )
    assert saved is not None and saved.email is False
    _enrol_class(login, addressed, _approved(db_session, addressed))
    run_delivery_job(app)
    assert smtp_server.to("parent@home.test") == []  # the parent's own choice
    assert len(smtp_server.to("student@school.test")) == 1  # the child's, kept at its default


@pytest.mark.parametrize(
    ("field", "value"),
    [("email-enrolment", "yes"), ("email-reminder", "0"), ("email-completion", "")],
)
def test_a_checkbox_with_another_value_is_a_422_naming_it(  # type: ignore[no-untyped-def]
    login, addressed, smtp_server, field: str, value: str
) -> None:
    parent = login(addressed["parent"])
    r = parent.post(
        "/account/notifications", data={field: value, "email-reschedule": "1", "csrf_token": parent.csrf()}
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert f'aria-describedby="{field}-error"' in page and "허용되지 않는 값입니다." in page
    assert 'name="email-reschedule" value="1" checked' in page  # what was ticked stays ticked
    assert 'name="email-enrolment" value="1" checked' not in page or field == "email-enrolment"


def test_without_smtp_nothing_is_queued_and_the_page_says_so(app, login, addressed, db_session) -> None:
    app.extensions["jobs"].drain_jobs("deliver")
    _enrol_class(login, addressed, _approved(db_session, addressed))
    assert db_session.scalars(select(OutboxMessage)).all() == []
    assert app.extensions["jobs"].drain_jobs("deliver") == []
    page = login(addressed["parent"]).get("/account").get_data(as_text=True)
    assert "이 서버는 아직 이메일이나 문자를 보내도록 설정되어 있지 않습니다." in page
    assert 'name="email-enrolment"' not in page and "알림 받는 방법 저장" not in page


def test_a_person_without_an_address_is_told_why_there_is_no_email(login, web_world, smtp_server) -> None:
    page = login(web_world["student2"]).get("/account").get_data(as_text=True)
    assert "계정에 이메일 주소가 등록되어 있지 않아 이메일로는 받을 수 없습니다." in page
    assert 'name="email-enrolment"' not in page


def test_the_notifications_page_leads_to_the_choices(login, web_world) -> None:
    page = login(web_world["student"]).get("/notifications").get_data(as_text=True)
    assert 'href="/account#notify-h"' in page and "알림 받기" in page


def test_the_school_messaging_hook_gets_the_person_and_a_short_text(
    app, login, addressed, db_session
) -> None:
    sent: list[tuple[Recipient, str]] = []
    previous = use_channels(app, {ChannelKind.sms: SmsChannel(lambda who, text: sent.append((who, text)))})
    try:
        parent = login(addressed["parent"])
        page = parent.get("/account").get_data(as_text=True)
        assert 'name="sms-enrolment"' in page and 'name="email-enrolment"' not in page
        parent.post("/account/notifications", data={"sms-enrolment": "1", "csrf_token": parent.csrf()})
        course = _approved(db_session, addressed)
        _enrol_class(login, addressed, course)
        assert sent == []
        assert run_delivery_job(app).sent == 1
    finally:
        use_channels(app, previous)
    [(who, text)] = sent
    assert who.username == "parent" and who.role == "parent"
    assert text == f"[이음] 강좌에 등록되었습니다 교통 안전 교실 http://127.0.0.1:5000/courses/{course.id}"


def test_a_refused_address_fails_with_the_error_kept_and_a_down_server_is_retried(
    app, login, addressed, db_session, smtp_server
) -> None:
    smtp_server.refuse("parent@home.test")
    _enrol_class(login, addressed, _approved(db_session, addressed))
    report = run_delivery_job(app)
    assert (report.sent, report.failed) == (1, 1)
    refused = db_session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == addressed["parent"].id))
    assert refused.status == OutboxStatus.failed and "recipient refused" in refused.last_error

    smtp_server.stop()  # the mail server is down while a second course enrols the class
    _enrol_class(login, addressed, _approved(db_session, addressed))
    report = run_delivery_job(app)
    assert (report.retried, report.sent) == (2, 0)
    waiting = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.pending)
    ).all()
    assert len(waiting) == 2
    assert all(r.attempts == 1 and r.last_error.startswith("ConnectionRefusedError") for r in waiting)
    assert run_delivery_job(app).retried == 0  # nothing is tried again before its back-off


def test_class_start_reminders_by_mail_link_to_the_live_room(app, addressed, db_session, smtp_server) -> None:
    course, live = live_course(db_session, addressed, starts_in=timedelta(minutes=8))
    db_session.commit()
    run_delivery_job(app)  # the enrolment mails
    smtp_server.clear()
    assert run_reminder_scan(app) == 1
    assert run_reminder_scan(app) == 0
    assert smtp_server.messages == []  # the scan writes; the delivery sends
    run_delivery_job(app)
    [mail] = smtp_server.to("student@school.test")
    assert mail["Subject"] == "[이음] 10분 뒤 실시간 수업이 시작됩니다"
    assert f"http://127.0.0.1:5000/live/{live.id}" in body(mail)
    assert len(smtp_server.to("parent@home.test")) == 1


def test_the_cli_commands_scan_and_deliver(app, addressed, db_session, smtp_server) -> None:
    live_course(db_session, addressed, starts_in=timedelta(minutes=3))
    db_session.commit()
    run_delivery_job(app)  # the enrolment mails
    smtp_server.clear()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["send-reminders"])
    assert out.exit_code == 0, out.output
    assert "1 reminder(s)" in out.output and "2 sent" in out.output  # manual queue: delivered at once
    assert len(smtp_server.messages) == 2
    out = runner.invoke(args=["deliver-notifications"])
    assert out.exit_code == 0 and "0 sent" in out.output


def test_the_workers_sweep_sends_the_reminders_and_whatever_is_left(
    app, addressed, db_session, smtp_server
) -> None:
    from media.worker import notify_and_deliver

    live_course(db_session, addressed, starts_in=timedelta(minutes=5))
    db_session.commit()
    app.extensions["jobs"].drain_jobs("deliver")  # as if the job announced with the enrolment was lost
    notify_and_deliver(app)
    subjects = sorted(m["Subject"] for m in smtp_server.to("student@school.test"))
    assert subjects == ["[이음] 10분 뒤 실시간 수업이 시작됩니다", "[이음] 강좌에 등록되었습니다"]
    notify_and_deliver(app)
    assert len(smtp_server.messages) == 4  # the student and the parent, twice each; nothing more
