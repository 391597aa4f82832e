"""A forgotten password, chosen anew by an e-mailed link: the same answer whoever is asked for, the mail sent
by the delivery job (never by the request) through a real SMTP server, a link that works once and briefly and
whose token is kept only as a hash, then every session ended and the change audited."""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from courses.db import utcnow
from courses.models import AccessAction, AccessLog, OutboxMessage, PasswordReset, User
from courses.reminders import SEOUL
from tests.factories import PASSWORD
from tests.mail_support import body, run_delivery_job

LINK = re.compile(r"http://127\.0\.0\.1:5000(/password/reset/[A-Za-z0-9_-]+)")
NEW = "a brand new passphrase"


def _address() -> dict[str, str]:
    """A fresh client address: one limiter serves every app built in this run."""
    n = uuid.uuid4().int
    return {"REMOTE_ADDR": f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"}


def _token(client, path: str = "/password/forgot") -> str:  # type: ignore[no-untyped-def]
    m = re.search(rb'name="csrf_token" value="([^"]+)"', client.get(path).data)
    assert m
    return m.group(1).decode()


@pytest.fixture()
def teacher(web_world, db_session) -> User:  # type: ignore[no-untyped-def]
    user = web_world["teacher"]
    user.email = "Teacher@School.test"
    db_session.commit()
    return user


def _ask(client, login: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/password/forgot",
        data={"login": login, "csrf_token": _token(client)},
        environ_base=env or _address(),
    )


def _answer(response) -> str:  # type: ignore[no-untyped-def]
    m = re.search(r'<section class="card narrow">.*</section>', response.get_data(as_text=True), re.S)
    assert m
    return m.group(0)


def _link(app, client, smtp_server, login: str = "teacher") -> str:  # type: ignore[no-untyped-def]
    assert _ask(client, login).status_code == 200
    run_delivery_job(app)
    [mail] = smtp_server.messages[-1:]
    m = LINK.search(body(mail))
    assert m, body(mail)
    return m.group(1)


def test_the_login_page_offers_it(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    assert '<a href="/password/forgot">비밀번호를 잊으셨나요?</a>' in page


def test_every_request_gets_the_same_answer_and_only_real_addresses_get_mail(
    app, client, teacher, web_world, db_session, smtp_server
) -> None:
    web_world["student2"].active = False
    web_world["student2"].email = "gone@school.test"
    db_session.commit()
    asked = [
        "teacher",
        "teacher@school.TEST",
        "student-without-mail",
        web_world["student"].username,
        "nobody",
        web_world["student2"].username,
    ]
    answers = {_answer(_ask(client, login)) for login in asked}
    assert len(answers) == 1  # nothing tells which of them exist
    assert "링크는 30분 동안 한 번만 쓸 수 있습니다." in answers.pop()
    assert smtp_server.messages == []  # the requests sent nothing
    run_delivery_job(app)
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == ["Teacher@School.test"] * 2


def test_the_link_works_once_ends_every_session_and_is_audited(  # type: ignore[no-untyped-def]
    app, client, login, teacher, db_session, smtp_server
) -> None:
    logged_in = login(teacher)
    path = _link(app, client, smtp_server)
    mail = smtp_server.messages[-1]
    assert mail["Subject"] == "[이음] 비밀번호 재설정 안내"
    text = body(mail)
    assert text.startswith("teacher님(아이디 teacher), 비밀번호 재설정을 요청하셨습니다.\n")
    token = path.rsplit("/", 1)[1]
    reset = db_session.scalars(select(PasswordReset)).one()
    assert reset.expires_at - reset.created_at == timedelta(minutes=30)
    until = f"{reset.expires_at.astimezone(SEOUL):%Y-%m-%d %H:%M}"
    assert (
        f"아래 링크에서 {until}(한국 시각)까지 새 비밀번호를 정하세요. 링크는 한 번만 쓸 수 있습니다.\n"
        in text
    )
    assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept

    page = client.get(path)
    assert page.status_code == 200 and 'name="new"' in page.get_data(as_text=True)
    csrf = _token(client, path)
    r = client.post(path, data={"new": NEW, "confirm": NEW, "csrf_token": csrf}, environ_base=_address())
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert "새 비밀번호로 로그인하세요" in client.get("/login").get_data(as_text=True)
    assert logged_in.get("/").status_code == 302  # every session of the account ended
    entry = db_session.scalar(select(AccessLog).where(AccessLog.action == AccessAction.password_reset))
    assert entry is not None and entry.actor_id == teacher.id and entry.subject_id == teacher.id

    again = client.get(path)
    assert again.status_code == 410
    assert "이미 사용한 비밀번호 재설정 링크입니다." in html.unescape(again.get_data(as_text=True))
    fresh = app.test_client()
    t = _token(fresh, "/login")
    assert (
        fresh.post("/login", data={"username": "teacher", "password": PASSWORD, "csrf_token": t}).status_code
        == 401
    )
    assert (
        fresh.post("/login", data={"username": "teacher", "password": NEW, "csrf_token": t}).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("new", "confirm", "field", "message"),
    [
        ("short", "short", "new", "새 비밀번호는 10~256자로 입력하세요."),
        ("x" * 257, "x" * 257, "new", "새 비밀번호는 10~256자로 입력하세요."),
        (NEW, NEW + "!", "confirm", "새 비밀번호가 서로 다릅니다."),
        (PASSWORD, PASSWORD, "new", "현재와 다른 비밀번호를 입력하세요."),
        ("", "", "new", "새 비밀번호는 10~256자로 입력하세요."),
    ],
)
def test_the_new_password_follows_the_usual_rules_and_the_link_survives_a_mistake(  # type: ignore[no-untyped-def]
    app, client, teacher, db_session, smtp_server, new: str, confirm: str, field: str, message: str
) -> None:
    path = _link(app, client, smtp_server)
    r = client.post(path, data={"new": new, "confirm": confirm, "csrf_token": _token(client, path)})
    assert r.status_code == 422
    page = html.unescape(r.get_data(as_text=True))
    assert message in page and f'aria-describedby="{field}-error"' in page
    assert db_session.scalars(select(PasswordReset)).one().used_at is None
    assert client.get(path).status_code == 200


def _expire(db_session) -> None:  # type: ignore[no-untyped-def]
    db_session.scalars(select(PasswordReset)).one().expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()


def _use(db_session) -> None:  # type: ignore[no-untyped-def]
    db_session.scalars(select(PasswordReset)).one().used_at = utcnow()
    db_session.commit()


BAD_LINKS = [
    ("expired", 410, "비밀번호 재설정 링크의 유효 시간이 지났습니다. 재설정을 다시 요청하세요."),
    ("used", 410, "이미 사용한 비밀번호 재설정 링크입니다. 필요하면 재설정을 다시 요청하세요."),
    ("unknown", 404, "비밀번호 재설정 링크가 올바르지 않습니다."),
    ("short", 404, "비밀번호 재설정 링크가 올바르지 않습니다."),
    ("odd characters", 404, "비밀번호 재설정 링크가 올바르지 않습니다."),
    ("too long", 404, "비밀번호 재설정 링크가 올바르지 않습니다."),
    ("cut short", 404, "비밀번호 재설정 링크가 올바르지 않습니다."),
]


@pytest.mark.parametrize(("case", "status", "message"), BAD_LINKS, ids=[c[0] for c in BAD_LINKS])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_links_get_a_clear_korean_message(  # type: ignore[no-untyped-def]
    app, client, teacher, db_session, smtp_server, case: str, status: int, message: str, method: str
) -> None:
    path = _link(app, client, smtp_server)
    token = path.rsplit("/", 1)[1]
    if case == "expired":
        _expire(db_session)
    elif case == "used":
        _use(db_session)
    else:
        path = (
            "/password/reset/"
            + {
                "unknown": secrets.token_urlsafe(32),
                "short": "abc",
                "odd characters": "%3Cscript%3Ealert(1)%3C%2Fscript%3E" + "a" * 20,
                "too long": "a" * 300,
                "cut short": token[:-5],
            }[case]
        )
    csrf = _token(client)
    if method == "GET":
        r = client.get(path)
    else:
        r = client.post(path, data={"new": NEW, "confirm": NEW, "csrf_token": csrf})
    assert r.status_code == status
    assert message in html.unescape(r.get_data(as_text=True))
    assert db_session.get(User, teacher.id).password_hash == teacher.password_hash  # unchanged


def test_a_link_that_expired_before_the_mail_left_is_not_sent(
    app, client, teacher, db_session, smtp_server
) -> None:
    assert _ask(client, "teacher").status_code == 200
    _expire(db_session)
    report = run_delivery_job(app)
    assert (report.sent, report.cancelled) == (0, 1)
    assert smtp_server.messages == [] and db_session.scalars(select(PasswordReset)).one().token_hash is None


def test_a_person_gets_at_most_three_links_an_hour(app, client, teacher, db_session, smtp_server) -> None:
    for _ in range(5):
        assert _ask(client, "teacher").status_code == 200  # the same answer every time
    assert len(db_session.scalars(select(OutboxMessage)).all()) == 3
    run_delivery_job(app)
    assert len(smtp_server.messages) == 3


@pytest.mark.parametrize(
    ("login", "message"),
    [
        ("", "아이디나 이메일 주소를 입력하세요."),
        ("   ", "아이디나 이메일 주소를 입력하세요."),
        ("x" * 255, "254자 이내로 입력하세요."),
    ],
)
def test_an_empty_or_overlong_answer_is_a_422_that_keeps_what_was_typed(
    client, smtp_server, login: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    r = _ask(client, login)
    assert r.status_code == 422
    page = html.unescape(r.get_data(as_text=True))
    assert message in page and 'aria-describedby="login-error"' in page
    assert f'value="{login}"' in page


def test_asking_is_rate_limited_per_address(app, client, teacher, smtp_server) -> None:
    env = _address()
    limit = int(app.config["PASSWORD_RESET_RATE_LIMIT"].split()[0])
    statuses = [_ask(client, f"someone-{i}", env).status_code for i in range(limit + 1)]
    assert statuses == [200] * limit + [429]
    r = _ask(client, "teacher", env)
    assert r.status_code == 429 and "시도가 너무 많습니다" in r.get_data(as_text=True)
    assert 'name="login"' in r.get_data(as_text=True)  # the form again, to try later
    assert _ask(client, "teacher").status_code == 200  # from another address


def test_without_smtp_the_page_says_reset_by_mail_is_not_available(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/password/forgot").get_data(as_text=True)
    assert "이 서버는 이메일을 보내도록 설정되어 있지 않아" in page and 'name="login"' not in page
