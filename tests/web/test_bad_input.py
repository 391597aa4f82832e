"""Bad input, as tables: every endpoint that takes an id, a number, a date or text answers 4xx with a message,
never a 500, and writes nothing. Runs on SQLite and PostgreSQL alike (the app fixture is parametrised)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from courses.models import Course, CourseEvent, Enrolment, Lesson, Material
from tests.live_support import live_course

HUGE = ["9223372036854775808", "18446744073709551616", "1" + "0" * 30, "-9223372036854775809"]
BAD_NUMBERS = [*HUGE, "1e400", "NaN", "Infinity", "1.5", "0x10", "١٢", "\x00"]
BAD_DATES = ["0001-01-01", "9999-12-31", "1999-12-31", "2026-02-30", "２０２６-01-01", "\x00"]
BAD_DATETIMES = ["0001-01-01T00:00", "9999-12-31T23:59", "2026-13-01T00:00", "\x00"]
INVISIBLE = ["\u200b\u200b\u200b", "\u202e\u202d", "\u3000\u3000", "\x01\x02\x03", "\u0301\u0301", " \t "]
BAD_TEXT = ["\x00제목", *INVISIBLE]


@pytest.fixture()
def world(web_world, db_session):
    course, ls = live_course(db_session, web_world)
    db_session.commit()
    return web_world, course, ls


def _request_body(w, **overrides) -> dict:
    """A valid class-level request as JSON, with fields overridden."""
    return {
        "level": "class",
        "theme_id": w.themes[0].id,
        "title": "안전 교실",
        "goals": "목표",
        "delivery": "live",
        "lesson_count": 2,
        "hours": 2,
        "start_date": "2027-03-02",
        "end_date": "2027-03-30",
        "instructor_mode": "homeroom",
        "class_id": w.cls.id,
        **overrides,
    }


def _counts(db_session) -> tuple[int, ...]:
    return tuple(
        db_session.scalar(select(func.count()).select_from(m))
        for m in (Course, CourseEvent, Enrolment, Material, Lesson)
    )


def _ok(r) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_data(as_text=True)
    assert "Traceback" not in body


def _int_routes(app):
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if "<int:" in rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


@pytest.mark.parametrize("who", ["office_admin", "teacher"])
@pytest.mark.parametrize("huge", HUGE[:3])
def test_ids_beyond_64_bits_in_every_path_are_404(app, login, world, db_session, who, huge):
    w, course, ls = world
    c = login(w[who])
    before = _counts(db_session)
    routes = _int_routes(app)
    assert len(routes) >= 15
    for rule, method in routes:
        import re

        path = re.sub(r"<int:\w+>", huge, rule.rule)
        path = re.sub(r"<any\([^)]*\):\w+>|<\w+>", "start", path)
        r = c.open(path, method=method, data={"csrf_token": c.csrf()}, headers={"X-CSRFToken": c.csrf()})
        assert r.status_code in (404, 405), (method, path, r.status_code)
    assert _counts(db_session) == before


@pytest.mark.parametrize("huge", ["2147483648", "3000000000", "9223372036854775807"])
def test_ids_beyond_32_bits_in_paths_are_404_not_a_database_error(login, world, huge):
    """Id columns are 32-bit: PostgreSQL refuses to compare a bigger number with one (a 500 before)."""
    w, _course, _ls = world
    c = login(w["office_admin"])
    for path in (
        f"/courses/{huge}",
        f"/courses/{huge}/enrolment",
        f"/admin/themes/{huge}",
        f"/api/v1/courses/{huge}",
    ):
        assert c.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "field",
    [
        "theme_id",
        "lesson_count",
        "hours",
        "instructor_id",
        "class_id",
        "completion_threshold_pct",
        "content_element_id",
    ],
)
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_course_request_form_numbers(login, world, db_session, field, value):
    w, _course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    form = {
        "level": "class",
        "theme_id": str(w.themes[0].id),
        "title": "안전 교실",
        "goals": "목표",
        "delivery": "live",
        "lesson_count": "2",
        "hours": "2",
        "start_date": "2027-03-02",
        "end_date": "2027-03-30",
        "instructor_mode": "homeroom",
        "class_id": str(w.cls.id),
        "csrf_token": c.csrf(),
        field: value,
    }
    r = c.post("/courses/new", data=form)
    _ok(r)
    assert _counts(db_session) == before


@pytest.mark.parametrize("field", ["start_date", "end_date"])
@pytest.mark.parametrize("value", BAD_DATES)
def test_course_request_dates_form_and_json(login, world, db_session, field, value):
    w, _course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    base = _request_body(w, **{field: value})
    _ok(c.post("/courses/new", data={**{k: str(v) for k, v in base.items()}, "csrf_token": c.csrf()}))
    r = c.post("/api/v1/courses", json=base, headers={"X-CSRFToken": c.csrf()})
    _ok(r)
    assert r.get_json()["error"]["message"]
    assert _counts(db_session) == before


@pytest.mark.parametrize("field", ["title", "goals"])
@pytest.mark.parametrize("value", BAD_TEXT)
def test_course_request_text(login, world, db_session, field, value):
    w, _course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    base = _request_body(w, **{field: value})
    _ok(c.post("/api/v1/courses", json=base, headers={"X-CSRFToken": c.csrf()}))
    _ok(c.post("/courses/new", data={**{k: str(v) for k, v in base.items()}, "csrf_token": c.csrf()}))
    assert _counts(db_session) == before


RAW_JSON = [
    '{"theme_id": 18446744073709551616}',
    '{"hours": Infinity}',
    '{"hours": NaN}',
    '{"hours": -Infinity}',
    '{"hours": 1e400}',
    '{"title": "\\ud800"}',
    '{"title": "a\\u0000b"}',
    "[" * 100_000 + "]" * 100_000,
    "[" * 40 + "]" * 40,
    '{"a": ' * 50 + "1" + "}" * 50,
    "{not json",
    "",
    '"\\udfff"',
]


@pytest.mark.parametrize("body", RAW_JSON, ids=lambda b: b[:30])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/courses"),
        ("PUT", "/api/v1/courses/{course}/instructor"),
        ("POST", "/api/v1/courses/{course}/enrolments"),
        ("POST", "/api/v1/courses/{course}/actions/reject"),
    ],
)
def test_malformed_json_bodies(login, world, db_session, body, method, path):
    w, course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    r = c.open(
        path.format(course=course.id),
        method=method,
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": c.csrf()},
    )
    _ok(r)
    assert r.get_json()["error"]["message"]
    assert _counts(db_session) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"instructor_mode": "office", "instructor_id": 2**64},
        {"instructor_mode": "office", "instructor_id": 1.5},
        {"instructor_mode": "office", "instructor_id": "9" * 40},
        {"instructor_mode": "office", "instructor_id": [1]},
        {"instructor_mode": "\x00", "instructor_id": 1},
    ],
)
def test_instructor_json_numbers(login, world, db_session, payload):
    w, course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    _ok(
        c.put(
            f"/api/v1/courses/{course.id}/instructor",
            data=json.dumps(payload),
            content_type="application/json",
            headers={"X-CSRFToken": c.csrf()},
        )
    )
    assert _counts(db_session) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"student_ids": [2**64]},
        {"student_ids": [-(2**63) - 1]},
        {"student_ids": ["x"]},
        {"student_ids": [1.5]},
        {"school_id": 2**64},
        {"school_id": 1, "grade": 2**70},
        {"school_id": 1, "class_id": "1" * 30},
    ],
)
def test_enrolment_json_numbers(login, world, db_session, payload):
    w, course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    _ok(c.post(f"/api/v1/courses/{course.id}/enrolments", json=payload, headers={"X-CSRFToken": c.csrf()}))
    assert _counts(db_session) == before


@pytest.mark.parametrize("field", ["school_id", "grade", "class_id"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_enrolment_form_numbers(login, world, db_session, field, value):
    w, course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    form = {
        "op": "group",
        "school_id": str(w.school.id),
        "class_id": str(w.cls2.id),
        "csrf_token": c.csrf(),
        field: value,
    }
    r = c.post(f"/courses/{course.id}/enrolment", data=form)
    assert r.status_code < 500
    assert _counts(db_session) == before
    form = {"op": "remove", "student_id": value, "csrf_token": c.csrf()}
    _ok(c.post(f"/courses/{course.id}/enrolment", data=form))


@pytest.mark.parametrize("value", BAD_DATETIMES)
@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_lesson_schedule_datetimes(login, world, db_session, field, value):
    w, course, _ls = world
    c = login(w["teacher"])
    lesson = course.lessons[1]
    before = (lesson.title, lesson.starts_at)
    form = {
        "title": "2차시",
        "starts_at": "2027-03-02T09:00",
        "ends_at": "2027-03-02T09:40",
        "csrf_token": c.csrf(),
        field: value,
    }
    _ok(c.post(f"/courses/{course.id}/lessons/{lesson.id}", data=form))
    db_session.expire_all()
    assert (db_session.get(Lesson, lesson.id).title, db_session.get(Lesson, lesson.id).starts_at) == before


@pytest.mark.parametrize("value", BAD_TEXT)
def test_lesson_and_material_titles(login, world, db_session, value):
    w, course, _ls = world
    c = login(w["teacher"])
    before = _counts(db_session)
    _ok(
        c.post(
            f"/courses/{course.id}/lessons/{course.lessons[1].id}",
            data={"title": value, "starts_at": "", "ends_at": "", "csrf_token": c.csrf()},
        )
    )
    _ok(
        c.post(
            f"/courses/{course.id}/materials",
            data={"title": value, "url": "https://example.org/a", "csrf_token": c.csrf()},
        )
    )
    assert _counts(db_session) == before
    db_session.expire_all()
    assert db_session.get(Lesson, course.lessons[1].id).title == "2차시"


@pytest.mark.parametrize("value", INVISIBLE)
def test_reject_reason_must_be_visible(login, web_world, db_session, value):
    from courses import workflow
    from tests.factories import course_input

    course = workflow.submit_request(db_session, web_world["teacher"], course_input(web_world))
    db_session.commit()
    c = login(web_world["school_admin"])
    r = c.post(
        f"/api/v1/courses/{course.id}/actions/reject",
        json={"reason": value},
        headers={"X-CSRFToken": c.csrf()},
    )
    _ok(r)
    db_session.expire_all()
    assert db_session.get(Course, course.id).status.value == "submitted"


@pytest.mark.parametrize(
    "query",
    [
        "/courses/?page=99999999999999999999999",
        "/courses/?page=-99999999999999999999",
        "/courses/?status=%00",
        "/api/v1/courses?limit=99999999999999999999",
        "/api/v1/courses?offset=99999999999999999999",
        "/api/v1/courses?offset=1e400",
        "/api/v1/courses?limit=NaN",
        "/api/v1/instructors?theme_id=99999999999999999999",
        "/api/v1/courses/{course}/enrolments?offset=18446744073709551616",
        "/admin/people?q=%00",
        "/reports/enrolment?format=%00",
        "/live/{live}/attendance?format=pdf",
    ],
)
def test_query_strings(login, world, query):
    w, course, ls = world
    c = login(w["office_admin"])
    r = c.get(query.format(course=course.id, live=ls.id))
    assert r.status_code in (200, 400, 422), (query, r.status_code)


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\r\nSet-Cookie: x=1",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%0d%0aX: y",
        " /x",
        "/\x00x",
        "/\u3000/evil.example",
    ],
)
def test_redirect_targets_stay_local(login, client, world, target):
    w, _course, _ls = world
    c = login(w["teacher"])
    r = c.post("/lang/en", data={"csrf_token": c.csrf(), "next": target})
    assert r.status_code in (302, 400)
    if r.status_code == 302:
        location = r.headers["Location"]
        assert location.startswith("/") and not location.startswith("//") and "\\" not in location
        assert not any(ch in location for ch in "\r\n\t\x00 ")
        assert location == "/" or target in ("/%0d%0aX: y", "/\u3000/evil.example")  # escaped: a local path


def test_nul_in_a_form_is_a_clear_400(login, world, db_session):
    w, course, _ls = world
    c = login(w["teacher"])
    r = c.post(
        f"/courses/{course.id}/materials",
        data={"title": "자료\x00", "url": "https://e.org", "csrf_token": c.csrf()},
    )
    assert r.status_code == 400 and "NUL" in r.get_data(as_text=True)
