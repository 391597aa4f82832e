"""The private calendar feed: made and revoked on the account page, readable without login by its URL only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.live_support import live_course


def _post(client, url: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf()})


def _feed_url(client) -> str:  # type: ignore[no-untyped-def]
    r = _post(client, "/account/calendar")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    m = re.search(r"(http://localhost/calendar/[A-Za-z0-9_-]+\.ics)", page)
    assert m, page[:2000]
    return m.group(1).replace("http://localhost", "")


def test_a_student_subscribes_to_their_lessons_and_can_revoke_the_url(
    app, login, db_session, web_world
) -> None:
    course, live = live_course(db_session, web_world, starts_in=timedelta(hours=3))
    db_session.commit()
    student = login(web_world["student"])
    url = _feed_url(student)
    anonymous = app.test_client()
    r = anonymous.get(url)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    body = r.get_data(as_text=True).replace("\r\n ", "")
    assert f"UID:lesson-{live.lesson_id}@ieum" in body and course.title in body
    assert body.count("BEGIN:VEVENT") == 1  # only the scheduled lesson
    assert "구독 주소를 " in student.get("/account").get_data(as_text=True)
    other = _feed_url(login(web_world["student_b"]))
    assert course.title not in anonymous.get(other).get_data(as_text=True)  # not enrolled: not in their feed
    new = _feed_url(student)  # a new URL revokes the old one
    assert anonymous.get(url).status_code == 404 and anonymous.get(new).status_code == 200
    _post(student, "/account/calendar/revoke")
    assert anonymous.get(new).status_code == 404


@pytest.mark.parametrize("token", ["x", "a" * 43, "a" * 300, "%00", "..%2f..%2fetc"])
def test_unknown_feed_urls_are_not_found(app, token) -> None:
    assert app.test_client().get(f"/calendar/{token}.ics").status_code == 404
