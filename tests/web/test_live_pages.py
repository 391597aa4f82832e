"""Live class pages and the SFU webhook over HTTP."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from contracts.rooms import recording_key
from contracts.tokens import verify_join_token
from contracts.webhooks import sign_webhook
from courses.db import utcnow
from tests.export_support import read_csv, read_xlsx
from tests.live_support import event, live_course


@pytest.fixture()
def running(web_world, db_session):
    course, ls = live_course(db_session, web_world, starts_in=timedelta(minutes=-5), minutes=40)
    db_session.commit()
    return course, ls


def _post_event(client, app, body: dict, *, secret=None, ts=None, tamper=False):
    raw = json.dumps(body).encode()
    ts = int(time.time()) if ts is None else ts
    sig = sign_webhook(secret or app.config["SFU_SECRET"], raw, ts)
    if tamper:
        raw = raw.replace(b"participant.joined", b"participant.left")
    return client.post(
        "/api/v1/sfu/webhook",
        data=raw,
        content_type="application/json",
        headers={"X-Ieum-Signature": sig, "X-Ieum-Timestamp": str(ts)},
    )


def test_student_gets_a_join_token_for_this_room(app, login, web_world, running):
    course, ls = running
    c = login(web_world["student"])
    page = c.get(f"/live/{ls.id}")
    assert page.status_code == 200 and "수업 입장" in page.get_data(as_text=True)
    r = c.post(f"/live/{ls.id}/token", json={}, headers={"X-CSRFToken": c.csrf()})
    assert r.status_code == 200
    claims = verify_join_token(app.config["SFU_SECRET"], r.json["token"], room=ls.room)
    assert claims.role == "student" and claims.publish == () and r.json["sfu_url"].startswith("ws")


def test_token_needs_csrf_and_access(login, web_world, running):
    _, ls = running
    c = login(web_world["student"])
    assert c.post(f"/live/{ls.id}/token", json={}).status_code == 400  # no CSRF token
    parent = login(web_world["parent"])
    assert (
        parent.post(f"/live/{ls.id}/token", json={}, headers={"X-CSRFToken": parent.csrf()}).status_code
        == 403
    )
    other = login(web_world["student_b"])
    assert (
        other.post(f"/live/{ls.id}/token", json={}, headers={"X-CSRFToken": other.csrf()}).status_code == 404
    )
    assert other.get(f"/live/{ls.id}").status_code == 404
    assert login(web_world["teacher_b"]).get(f"/live/{ls.id}/attendance").status_code == 404


def test_webhook_applies_once_and_attendance_exports(app, client, login, web_world, running, db_session):
    course, ls = running
    s = web_world["student"]
    joined = event(ls, "participant.joined", s, ls.starts_at, name=s.name, role="student")
    r = _post_event(client, app, joined)
    assert r.status_code == 200 and r.json == {"status": "applied"}
    assert _post_event(client, app, joined).json == {"status": "duplicate"}  # a retried delivery
    _post_event(
        client, app, event(ls, "participant.left", s, ls.starts_at + timedelta(minutes=4), reason="bye")
    )
    _post_event(
        client, app, event(ls, "chat.message", s, ls.starts_at + timedelta(minutes=1), text="안녕하세요")
    )
    t = login(web_world["teacher"])
    page = t.get(f"/live/{ls.id}/attendance").get_data(as_text=True)
    assert s.name in page and "안녕하세요" in page and "<canvas" in page
    heading, header, rows = read_csv(t.get(f"/live/{ls.id}/attendance?format=csv").data)
    assert heading[0] == "출석 현황" and any(h.startswith("수업 일시: ") for h in heading)
    assert header[:6] == ["학급", "번호", "이름", "입장", "퇴장", "참석(분)"]
    mine = next(r for r in rows if s.name in r)
    assert "4.0" in mine and mine[-1] == "미이수"
    heading, header, rows = read_xlsx(t.get(f"/live/{ls.id}/attendance?format=xlsx").data)
    assert heading[0] == "출석 현황" and len(rows) == 5


@pytest.mark.parametrize("kind", ["wrong_secret", "stale", "tampered", "missing"])
def test_forged_webhooks_are_rejected(app, client, web_world, running, kind, db_session):
    _, ls = running
    body = event(ls, "participant.joined", web_world["student"], ls.starts_at)
    if kind == "missing":
        r = client.post("/api/v1/sfu/webhook", json=body)
    else:
        r = _post_event(
            client,
            app,
            body,
            secret="x" * 40 if kind == "wrong_secret" else None,
            ts=int(time.time()) - 3600 if kind == "stale" else None,
            tamper=kind == "tampered",
        )
    assert r.status_code == 401
    from sqlalchemy import func, select

    from courses.models import SfuEvent

    assert db_session.scalar(select(func.count()).select_from(SfuEvent)) == 0


def test_malformed_webhook_body_is_400(app, client, running):
    raw = b"{not json"
    ts = int(time.time())
    r = client.post(
        "/api/v1/sfu/webhook",
        data=raw,
        content_type="application/json",
        headers={
            "X-Ieum-Signature": sign_webhook(app.config["SFU_SECRET"], raw, ts),
            "X-Ieum-Timestamp": str(ts),
        },
    )
    assert r.status_code == 400 and r.json["error"]["code"] == "BadEvent"


def test_course_page_links_to_the_live_room(login, web_world, running):
    course, ls = running
    page = login(web_world["student"]).get(f"/courses/{course.id}").get_data(as_text=True)
    assert f"/live/{ls.id}" in page and "실시간 수업 입장" in page


def test_teacher_ends_class(login, web_world, running):
    _, ls = running
    t = login(web_world["teacher"])
    r = t.post(f"/live/{ls.id}/end", data={"csrf_token": t.csrf()})
    assert r.status_code == 302
    s = login(web_world["student"])
    r = s.post(f"/live/{ls.id}/token", json={}, headers={"X-CSRFToken": s.csrf()})
    assert r.status_code == 409 and "끝난 수업" in r.json["error"]["message"]


def _recording(ls, **data) -> dict:
    fields = {
        "object_key": recording_key(ls.room, utcnow(), "0a1b2c3d", "video/webm"),
        "content_type": "video/webm",
        "duration_s": 61.5,
        "size": 123456,
        "started_at": utcnow().isoformat(),
        "tracks": [{"kind": "video", "codec": "VP8", "frames": 900, "dropped_frames": 0}],
    }
    fields.update(data)
    return event(ls, "recording.finished", None, utcnow(), **fields)


def _set(**fields):
    return lambda body, ls: body.update(fields)


def _data(**fields):
    return lambda body, ls: body["data"].update(fields)


GIB = 2**30
# (what, which event, how it is spoiled, words the 400's message must contain)
BAD_WEBHOOKS = [
    (
        "key of another room",
        "recording",
        lambda b, ls: b["data"].update(
            object_key=recording_key(f"live-{ls.id + 1}", utcnow(), "0a1b2c3d", "video/webm")
        ),
        "object_key",
    ),
    ("key outside recordings/", "recording", _data(object_key="courses/1/secret.webm"), "object_key"),
    (
        "path traversal",
        "recording",
        lambda b, ls: b["data"].update(object_key=f"recordings/{ls.room}/../../etc/passwd"),
        "object_key",
    ),
    ("a URL", "recording", _data(object_key="https://evil.example/x.webm"), "object_key"),
    ("extension not of the content type", "recording", _data(content_type="video/x-matroska"), "object_key"),
    ("unknown content type", "recording", _data(content_type="text/html"), "object_key"),
    ("no key", "recording", lambda b, ls: b["data"].pop("object_key"), "object_key"),
    ("negative size", "recording", _data(size=-1), "size"),
    ("size over 50 GiB", "recording", _data(size=50 * GIB + 1), "size"),
    ("size as text", "recording", _data(size="123"), "size"),
    ("size as a boolean", "recording", _data(size=True), "size"),
    (
        "size beyond 64 bits",
        "recording",
        _data(size=2**70),
        "64",
    ),  # refused by the strict JSON parser (app.input) before the field check
    ("negative duration", "recording", _data(duration_s=-0.5), "duration_s"),
    ("duration over a day", "recording", _data(duration_s=86400.5), "duration_s"),
    ("too many tracks", "recording", _data(tracks=[{"kind": "audio"}] * 65), "tracks"),
    ("frame count beyond 64 bits", "recording", _data(tracks=[{"kind": "video", "frames": 2**64}]), "64"),
    ("unexpected recording field", "recording", _data(owner="someone"), "unexpected"),
    ("room id zero", "joined", _set(room="live-0"), "room"),
    ("room id with a leading zero", "joined", lambda b, ls: b.update(room=f"live-0{ls.id}"), "room"),
    ("room id beyond 64 bits", "joined", _set(room="live-" + "9" * 20), "room"),
    ("room of another platform", "joined", _set(room="meet-1"), "room"),
    ("room as a number", "joined", _set(room=1), "room"),
    ("user in other digits", "joined", _set(user="١٢"), "user"),
    ("user beyond 64 bits", "joined", _set(user=str(2**63)), "user"),
    ("user as a number", "joined", lambda b, ls: b.update(user=int(b["user"])), "user"),
    ("event id with spaces", "joined", _set(id="not an id at all"), "id"),
    ("event id too long", "joined", _set(id="x" * 65), "id"),
    (
        "time far ahead",
        "joined",
        lambda b, ls: b.update(at=(utcnow() + timedelta(hours=1)).isoformat()),
        "window",
    ),
    (
        "time long ago",
        "joined",
        lambda b, ls: b.update(at=(utcnow() - timedelta(days=30)).isoformat()),
        "window",
    ),
    ("role that does not exist", "joined", _data(role="principal"), "role"),
    ("name as an object", "joined", _data(name={"x": 1}), "name"),
    ("chat longer than the SFU allows", "chat", _data(text="가" * 2001), "text"),
    ("chat without text", "chat", lambda b, ls: b["data"].pop("text"), "text"),
    ("publish of an unknown kind", "publish", _data(kind="smell"), "kind"),
    ("data on an event that has none", "hand", _data(anything=1), "unexpected"),
]


@pytest.mark.parametrize(
    ("what", "base", "spoil", "words"), BAD_WEBHOOKS, ids=[row[0] for row in BAD_WEBHOOKS]
)
def test_out_of_bounds_webhooks_are_400_and_write_nothing(
    app, client, web_world, running, db_session, what, base, spoil, words
):
    from sqlalchemy import func, select

    from courses.models import Attendance, ChatMessage, Recording, SfuEvent

    _, ls = running
    s = web_world["student"]
    body = {
        "recording": lambda: _recording(ls),
        "joined": lambda: event(ls, "participant.joined", s, utcnow(), name=s.name, role="student"),
        "chat": lambda: event(ls, "chat.message", s, utcnow(), text="안녕"),
        "publish": lambda: event(ls, "publish.started", s, utcnow(), kind="video"),
        "hand": lambda: event(ls, "hand.raised", s, utcnow()),
    }[base]()
    spoil(body, ls)
    r = _post_event(client, app, body)
    assert r.status_code == 400, what
    assert r.json["error"]["code"] == "BadEvent" and words in r.json["error"]["message"]
    for model in (SfuEvent, Recording, ChatMessage, Attendance):
        assert db_session.scalar(select(func.count()).select_from(model)) == 0, model


def test_a_recording_the_platform_built_is_listed(app, client, login, web_world, running, db_session):
    _, ls = running
    body = _recording(ls)
    r = _post_event(client, app, body)
    assert r.status_code == 200 and r.json == {"status": "applied"}
    assert _post_event(client, app, body).json == {"status": "duplicate"}
    again = dict(body, id="another-event-id")  # another event naming the same object: a 400, not a 500
    r = _post_event(client, app, again)
    assert r.status_code == 400 and "already listed" in r.json["error"]["message"]
    page = login(web_world["teacher"]).get(f"/live/{ls.id}/attendance")
    assert page.status_code == 200
