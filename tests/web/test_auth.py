"""Login, logout, session hygiene, CSRF, rate limiting and the idle timeout."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from tests.factories import PASSWORD


def _token(client, path="/login"):
    page = client.get(path)
    return re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()


def test_login_page_is_korean_and_sets_safe_cookie(client, web_world):
    r = client.get("/login")
    assert r.status_code == 200
    assert '<html lang="ko">' in r.get_data(as_text=True)
    assert "로그인" in r.get_data(as_text=True)
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_succeeds_and_starts_a_new_session(client, web_world):
    token = _token(client)
    with client.session_transaction() as s:
        s["planted"] = "attacker-value"
    r = client.post("/login", data={"username": "teacher", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    with client.session_transaction() as s:
        assert "planted" not in s  # nothing from before login survives
        assert s["_user_id"] == str(web_world["teacher"].id)
    assert "강좌 요청하기" in client.get("/").get_data(as_text=True)


def test_wrong_password_is_a_clear_error(client, web_world):
    token = _token(client)
    r = client.post("/login", data={"username": "teacher", "password": "nope", "csrf_token": token})
    assert r.status_code == 401
    assert "아이디 또는 비밀번호가 올바르지 않습니다." in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "", "password": "", "csrf_token": token})
    assert "아이디와 비밀번호를 입력하세요." in r.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, web_world):
    r = client.post("/login", data={"username": "teacher", "password": PASSWORD})
    assert r.status_code == 400
    assert "보안 토큰" in r.get_data(as_text=True)


def _address() -> dict:
    """A fresh client address: one limiter serves every app built in this run (SQLite and PostgreSQL)."""
    return {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}


def test_password_spraying_from_one_address_is_throttled(app, client, web_world):
    token = _token(client)
    env = _address()
    limit = int(app.config["LOGIN_ADDRESS_RATE_LIMIT"].split()[0])
    statuses = []
    for i in range(limit + 1):  # a different account each time: the per-account limit never trips
        r = client.post(
            "/login",
            data={
                "username": f"spray-{i}-{uuid.uuid4().hex[:6]}",
                "password": "Spring2026!",
                "csrf_token": token,
            },
            environ_base=env,
        )
        statuses.append(r.status_code)
    assert statuses[:limit] == [401] * limit and statuses[limit] == 429
    # A real user behind that address is slowed too, while the same user elsewhere is not.
    r = client.post(
        "/login", data={"username": "teacher", "password": PASSWORD, "csrf_token": token}, environ_base=env
    )
    assert r.status_code == 429
    r = client.post(
        "/login",
        data={"username": "teacher", "password": PASSWORD, "csrf_token": token},
        environ_base=_address(),
    )
    assert r.status_code == 302


def test_a_class_logging_in_from_one_address_is_not_throttled(app, client, web_world):
    env = _address()
    limit = int(app.config["LOGIN_ADDRESS_RATE_LIMIT"].split()[0])
    for _ in range(limit + 5):  # successful logins do not count
        c = app.test_client()
        c.get("/login")
        r = c.post(
            "/login",
            data={"username": web_world["student"].username, "password": PASSWORD, "csrf_token": _token(c)},
            environ_base=env,
        )
        assert r.status_code == 302


def test_login_is_rate_limited_with_a_clear_message(app, client, web_world):
    token = _token(client)
    # One limiter serves every app built in this run (SQLite and PostgreSQL): a fresh name per test.
    username = f"ratelimited-{uuid.uuid4().hex[:8]}"
    env = _address()
    statuses = []
    for _ in range(12):
        r = client.post(
            "/login", data={"username": username, "password": "x", "csrf_token": token}, environ_base=env
        )
        statuses.append(r.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert "시도가 너무 많습니다" in r.get_data(as_text=True)
    if os.environ.get("LMS_TEST_REDIS_URL"):  # the counters really live in Redis
        import redis

        r = redis.Redis.from_url(os.environ["LMS_TEST_REDIS_URL"])
        assert any(r.scan_iter(f"*{username}*"))


def test_open_redirect_after_login_is_ignored(client, web_world):
    token = _token(client)
    r = client.post(
        "/login?next=https://evil.example/x",
        data={"username": "teacher", "password": PASSWORD, "csrf_token": token},
    )
    assert r.headers["Location"] == "/"


def test_pages_need_login(client, web_world):
    for path in ("/", "/courses/", "/themes", "/notifications", "/instructors"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def _age_sessions(db_session, user, *, idle=None, created=None):
    """Move the user's server-side sessions into the past (as if time had passed)."""
    from datetime import timedelta

    from sqlalchemy import select

    from courses.models import LoginSession

    for row in db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        if idle is not None:
            row.last_seen_at -= timedelta(seconds=idle)
        if created is not None:
            row.expires_at -= timedelta(seconds=created)
    db_session.commit()


def test_idle_session_is_logged_out(app, login, web_world, db_session):
    c = login(web_world["teacher"])
    assert c.get("/").status_code == 200
    _age_sessions(db_session, web_world["teacher"], idle=app.config["IDLE_TIMEOUT_MIN"] * 60 + 5)
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert c.get("/").status_code == 302  # and stays logged out


def test_a_busy_session_still_ends_at_its_absolute_lifetime(app, login, web_world, db_session):
    c = login(web_world["teacher"])
    assert c.get("/").status_code == 200
    _age_sessions(db_session, web_world["teacher"], created=app.config["SESSION_LIFETIME_HOURS"] * 3600 + 1)
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert "로그인한 지 오래되어" in c.get(r.headers["Location"]).get_data(as_text=True)


def _copy_cookies(app, c):
    """A second client holding a copy of c's session cookie (a stolen or copied cookie)."""
    thief = app.test_client()
    for cookie in c._cookies.values():  # noqa: SLF001
        thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return thief


def _ends_every_copy(app, c, do):
    copy = _copy_cookies(app, c)
    assert copy.get("/").status_code == 200  # the copy works while the session lives
    do()
    assert copy.get("/").status_code == 302, "a copied cookie kept working"
    assert copy.get("/api/v1/courses").status_code == 401


def test_logout_ends_every_copy_of_the_session(app, login, web_world):
    c = login(web_world["teacher"])
    _ends_every_copy(
        app, c, lambda: c.post("/logout", data={"csrf_token": c.csrf()})
    )  # asserts the copy is out
    assert c.get("/").status_code == 302  # and so is the browser that logged out


def test_password_change_ends_every_other_session_and_keeps_this_one(app, login, web_world):
    c = login(web_world["teacher"])
    other = login(web_world["teacher"])

    def change():
        r = c.post(
            "/account/password",
            data={
                "current": PASSWORD,
                "new": "새-비밀번호-1234",
                "confirm": "새-비밀번호-1234",
                "csrf_token": c.csrf(),
            },
        )
        assert r.status_code == 302

    _ends_every_copy(app, c, change)
    assert other.get("/").status_code == 302
    assert c.get("/").status_code == 200  # the browser that changed it stays in


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field"),
    [
        ("wrong", "새-비밀번호-1234", "새-비밀번호-1234", "현재 비밀번호가 맞지 않습니다"),
        (PASSWORD, "short", "short", "10~256자"),
        (PASSWORD, "새-비밀번호-1234", "다른-비밀번호-1234", "서로 다릅니다"),
        (PASSWORD, "x" * 300, "x" * 300, "10~256자"),
    ],
)
def test_bad_password_changes_are_refused_in_place(login, web_world, current, new, confirm, field):
    c = login(web_world["teacher"])
    r = c.post(
        "/account/password", data={"current": current, "new": new, "confirm": confirm, "csrf_token": c.csrf()}
    )
    assert r.status_code == 422 and field in r.get_data(as_text=True)
    assert c.get("/").status_code == 200


def test_sign_out_everywhere_by_oneself_keeps_this_browser(app, login, web_world):
    c = login(web_world["teacher"])
    other = login(web_world["teacher"])
    r = c.post("/account/sessions/end-others", data={"csrf_token": c.csrf()})
    assert r.status_code == 302
    assert other.get("/").status_code == 302 and c.get("/").status_code == 200


@pytest.mark.parametrize("op", ["sign_out", "disable"])
def test_an_admin_ends_a_persons_sessions(app, login, web_world, op):
    student = login(web_world["student"])
    admin = login(web_world["school_admin"])
    _ends_every_copy(
        app,
        student,
        lambda: admin.post(
            f"/admin/people/{web_world['student'].id}", data={"op": op, "csrf_token": admin.csrf()}
        ),
    )
    assert student.get("/").status_code == 302


@pytest.mark.parametrize("who", ["school_b_admin", "teacher", "student", "foreign_admin"])
def test_nobody_outside_scope_ends_anothers_sessions(app, login, web_world, who):
    student = login(web_world["student"])
    c = login(web_world[who])
    r = c.post(f"/admin/people/{web_world['student'].id}", data={"op": "disable", "csrf_token": c.csrf()})
    assert r.status_code == 404
    assert student.get("/").status_code == 200


def test_logout_needs_post_with_csrf(login, web_world):
    c = login(web_world["teacher"])
    assert c.post("/logout").status_code == 400  # no token
    r = c.post("/logout", data={"csrf_token": c.csrf()})
    assert r.status_code == 302
    assert c.get("/").status_code == 302


def test_inactive_user_cannot_log_in(client, web_world, db_session):
    web_world["teacher"].active = False
    db_session.commit()
    token = _token(client)
    r = client.post("/login", data={"username": "teacher", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 401


def test_english_is_available(login, web_world):
    c = login(web_world["teacher"])
    r = c.post("/lang/en", data={"csrf_token": c.csrf(), "next": "/"})
    assert r.status_code == 302
    page = c.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page


def test_account_and_people_pages(login, web_world):
    c = login(web_world["school_admin"])
    page = c.get("/account").get_data(as_text=True)
    assert "지금 이 기기" in page and "비밀번호 바꾸기" in page
    people = c.get("/admin/people?q=" + web_world["student"].name[:2]).get_data(as_text=True)
    assert web_world["student"].name in people and web_world["student_b"].name not in people
    assert c.get(f"/admin/people/{web_world['student'].id}").status_code == 200
    assert c.get(f"/admin/people/{web_world['student_b'].id}").status_code == 404
    assert login(web_world["teacher"]).get("/admin/people").status_code == 404


def test_a_school_admin_gives_a_one_time_password_that_must_be_changed_first(
    app, login, web_world, db_session
) -> None:
    import re

    from courses.models import User

    admin = login(web_world["school_admin"])
    sid = web_world["student"].id
    db_session.get(User, sid).password_hash = None  # an imported student who never had a password
    db_session.commit()
    r = admin.post(f"/admin/people/{sid}", data={"op": "temp_password", "csrf_token": admin.csrf()})
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    password = re.search(r"임시 비밀번호: ([a-z0-9]+)", page).group(1)
    assert len(password) >= 10 and "임시 비밀번호를 받았고" in page
    # Another school's admin, a teacher and the student themself cannot do it.
    for who in ("school_b_admin", "teacher"):
        c = login(web_world[who])
        assert c.post(
            f"/admin/people/{sid}", data={"op": "temp_password", "csrf_token": c.csrf()}
        ).status_code in (403, 404)
    student = app.test_client()
    student.get("/login")
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', student.get("/login").get_data(as_text=True)
    ).group(1)
    r = student.post(
        "/login", data={"username": web_world["student"].username, "password": password, "csrf_token": token}
    )
    assert r.status_code == 302
    # Every page but the account page sends them to choose their own password first.
    for path in ("/", "/courses/", "/notifications"):
        r = student.get(path)
        assert r.status_code == 302 and "/account" in r.headers["Location"], path
    assert student.get("/api/v1/me").status_code == 403
    account = student.get("/account").get_data(as_text=True)
    assert "먼저 나만의 새 비밀번호를 정하세요" in account
    token = re.search(r'name="csrf_token" value="([^"]+)"', account).group(1)
    r = student.post(
        "/account/password",
        data={
            "current": password,
            "new": "my-own-secret-42",
            "confirm": "my-own-secret-42",
            "csrf_token": token,
        },
    )
    assert r.status_code == 302
    db_session.expire_all()
    assert db_session.get(User, sid).must_change_password is False
    assert student.get("/").status_code == 200  # free to go now
