"""Login, logout, session hygiene, CSRF, rate limiting and the idle timeout."""

from __future__ import annotations

import os
import re
import time
import uuid

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


def test_login_is_rate_limited_with_a_clear_message(app, client, web_world):
    token = _token(client)
    # One limiter serves every app built in this run (SQLite and PostgreSQL): a fresh name per test.
    username = f"ratelimited-{uuid.uuid4().hex[:8]}"
    statuses = []
    for _ in range(12):
        r = client.post("/login", data={"username": username, "password": "x", "csrf_token": token})
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
    r = client.post("/login?next=https://evil.example/x",
                    data={"username": "teacher", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/"


def test_pages_need_login(client, web_world):
    for path in ("/", "/courses/", "/themes", "/notifications", "/instructors"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_idle_session_is_logged_out(app, login, web_world):
    c = login(web_world["teacher"])
    assert c.get("/").status_code == 200
    with c.session_transaction() as s:
        s["seen"] = time.time() - app.config["IDLE_TIMEOUT_MIN"] * 60 - 5
    r = c.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert c.get("/").status_code == 302  # and stays logged out


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
