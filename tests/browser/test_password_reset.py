"""A forgotten password in headless Chromium against the real server: the login page's link, the request form,
the mail (sent by the server's delivery thread to the session's SMTP server, never by the request), the link,
the new password, and logging in with it. axe-core checks each page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, flask_command
from tests.browser.support import check_accessible, login
from tests.mail_support import SmtpSink, body

pytestmark = pytest.mark.browser
USER = "teacher3"  # a demo teacher with an address that no other browser test logs in as
NEW = "a brand new passphrase"


def test_a_forgotten_password_is_chosen_anew_by_the_mailed_link(
    page_as: Callable[..., Any], live_server: LiveServer, mail_sink: SmtpSink
) -> None:
    page = page_as(None)
    check_accessible(page, "login page")
    page.get_by_role("link", name="비밀번호를 잊으셨나요?").click()
    expect(page).to_have_url(re.compile(r"/password/forgot$"))
    check_accessible(page, "forgotten password form")
    page.get_by_label("아이디 또는 이메일 주소").fill(USER)
    page.get_by_role("button", name="재설정 링크 받기").click()
    expect(page.get_by_role("status").filter(has_text="링크를 보냈습니다")).to_be_visible()

    mail = mail_sink.wait_until(
        lambda m: (
            f"{USER}@ieum.example" in str(m["To"]) and str(m["Subject"]) == "[이음] 비밀번호 재설정 안내"
        )
    )
    assert mail is not None, "no reset mail reached the SMTP server"
    link = re.search(re.escape(live_server.url) + r"/password/reset/[A-Za-z0-9_-]+", body(mail))
    assert link, body(mail)
    page.goto(link.group(0))
    check_accessible(page, "new password form")
    page.get_by_label("새 비밀번호 (10자 이상)").fill(NEW)
    page.get_by_label("새 비밀번호 확인").fill(NEW)
    page.get_by_role("button", name="비밀번호 정하기").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("새 비밀번호로 로그인하세요")).to_be_visible()

    page.goto(link.group(0))  # the link works once
    expect(page.get_by_text("이미 사용한 비밀번호 재설정 링크입니다.")).to_be_visible()
    login(page, USER, NEW)
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_the_reminder_scan_and_delivery_run_from_the_cli_against_the_server(live_server: LiveServer) -> None:
    out = flask_command(live_server, "send-reminders")
    assert "reminder(s)" in out and "sent" in out
    assert "sent" in flask_command(live_server, "deliver-notifications")
