"""Machine access tokens: created once by an office admin, hashed at rest, scoped, revocable, no CSRF, no cookie,
rate limited per token, every use logged."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.api_tokens import ENDPOINT_SCOPES
from courses import api_tokens
from courses.models import ApiToken, ApiTokenUse
from tests.factories import course_input


@pytest.fixture()
def make_token(web_world, db_session):
    def _make(scopes, *, owner="office_admin", days=None):
        token, secret = api_tokens.create(
            db_session, web_world[owner], name="학사 시스템", scopes=scopes, days=days
        )
        db_session.commit()
        return token, secret

    return _make


def _bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_created_on_the_page_shown_once_and_hashed_at_rest(login, web_world, db_session):
    c = login(web_world["office_admin"])
    r = c.post(
        "/admin/api-tokens",
        data={"name": "나이스 연동", "preset": "read", "days": "30", "csrf_token": c.csrf()},
    )
    assert r.status_code == 200
    secret = re.search(r'<code id="new-token">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    assert secret.startswith("ieum_") and len(secret) > 40
    row = db_session.scalars(select(ApiToken)).one()
    assert (
        secret not in (row.token_hash, row.prefix)
        and row.token_hash == __import__("hashlib").sha256(secret.encode()).hexdigest()
    )
    assert set(row.scopes.split()) == api_tokens.READ_ONLY
    assert secret not in c.get("/admin/api-tokens").get_data(as_text=True)  # never shown again


def test_a_read_only_token_reads_without_session_or_csrf_and_cannot_write(
    app, web_world, make_token, db_session
):
    _token, secret = make_token(sorted(api_tokens.READ_ONLY))
    c = app.test_client()
    r = c.get("/api/v1/courses", headers=_bearer(secret))
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    body = course_input(web_world, level="office")
    r = c.post("/api/v1/courses", json={"level": "office"}, headers=_bearer(secret))
    assert r.status_code == 403 and "courses:write" in r.get_json()["error"]["message"]
    assert body  # the write was refused before any input was read


def test_a_write_token_writes_without_csrf(app, web_world, make_token, db_session):
    _token, secret = make_token(["courses:read", "courses:write"])
    c = app.test_client()
    w = web_world
    payload = {
        "level": "office",
        "theme_id": w.themes[0].id,
        "title": "연동으로 만든 강좌",
        "goals": "목표",
        "delivery": "live",
        "lesson_count": 2,
        "hours": 2,
        "start_date": "2027-03-02",
        "end_date": "2027-03-30",
        "instructor_mode": "office",
        "targets": [{"school_id": w.school.id}],
    }
    r = c.post("/api/v1/courses", json=payload, headers=_bearer(secret))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["requester"]["id"] == w["office_admin"].id  # it acts as its owner


@pytest.mark.parametrize(
    "case", ["unknown", "garbage", "revoked", "expired", "owner_disabled", "wrong_scheme"]
)
def test_refused_tokens_are_401_with_a_message(app, web_world, make_token, db_session, case):
    token, secret = make_token(["courses:read"], days=30)
    header = _bearer(secret)
    if case == "unknown":
        header = _bearer("ieum_" + "x" * 43)
    elif case == "garbage":
        header = _bearer("\u00e9" * 500)
    elif case == "revoked":
        api_tokens.revoke(db_session, web_world["office_admin"], token.id)
    elif case == "expired":
        token.expires_at = token.created_at - timedelta(seconds=1)
    elif case == "owner_disabled":
        web_world["office_admin"].active = False
    elif case == "wrong_scheme":
        header = {"Authorization": f"Basic {secret}"}
    db_session.commit()
    r = app.test_client().get("/api/v1/courses", headers=header)
    assert r.status_code == 401 and r.get_json()["error"]["message"]


def test_tokens_work_only_on_the_api(app, make_token):
    _token, secret = make_token(["courses:read"])
    r = app.test_client().get("/courses/", headers=_bearer(secret))
    assert r.status_code == 401


def test_every_use_is_logged_allowed_or_not(app, make_token, db_session):
    token, secret = make_token(["courses:read"])
    c = app.test_client()
    c.get("/api/v1/courses", headers=_bearer(secret), environ_base={"REMOTE_ADDR": "10.7.7.7"})
    c.get("/api/v1/notifications", headers=_bearer(secret))
    db_session.expire_all()
    uses = list(
        db_session.scalars(
            select(ApiTokenUse).where(ApiTokenUse.token_id == token.id).order_by(ApiTokenUse.id)
        )
    )
    assert [(u.path, u.status) for u in uses] == [("/api/v1/courses", 200), ("/api/v1/notifications", 403)]
    assert uses[0].ip == "10.7.7.7" and db_session.get(ApiToken, token.id).last_used_at is not None


def test_tokens_are_rate_limited_per_token(app, make_token, db_session):
    _token, secret = make_token(["courses:read"])
    other_token, other = make_token(["courses:read"])
    limit = int(app.config["API_TOKEN_RATE_LIMIT"].split()[0])
    c = app.test_client()
    statuses = [c.get("/api/v1/themes", headers=_bearer(secret)).status_code for _ in range(limit + 1)]
    assert statuses[:limit] == [200] * limit and statuses[-1] == 429
    assert c.get("/api/v1/themes", headers=_bearer(other)).status_code == 200


def test_only_office_admins_manage_tokens_and_only_their_offices(login, web_world, make_token):
    token, _secret = make_token(["courses:read"])
    for who in ("school_admin", "teacher", "student"):
        assert login(web_world[who]).get("/admin/api-tokens").status_code == 404
    c = login(web_world["other_office_admin"])
    assert "학사 시스템" not in c.get("/admin/api-tokens").get_data(as_text=True)
    r = c.post("/admin/api-tokens", data={"op": "revoke", "token_id": str(token.id), "csrf_token": c.csrf()})
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": "", "preset": "read"}, "이름"),
        ({"name": "\u200b", "preset": "read"}, "이름"),
        ({"name": "x", "preset": "custom"}, "권한"),
        ({"name": "x", "preset": "custom", "scopes": "admin:all"}, "권한"),
        ({"name": "x", "preset": "read", "days": "0"}, "유효 기간"),
        ({"name": "x", "preset": "read", "days": "9" * 30}, "숫자"),
    ],
)
def test_bad_creation_forms_are_refused_in_place(login, web_world, db_session, form, field):
    c = login(web_world["office_admin"])
    r = c.post("/admin/api-tokens", data={**form, "csrf_token": c.csrf()})
    assert r.status_code == 422 and field in r.get_data(as_text=True)
    assert db_session.scalars(select(ApiToken)).first() is None


def test_every_api_endpoint_has_a_scope(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert endpoints == set(ENDPOINT_SCOPES)
