"""A course shared by several schools belongs to the office: through HTTP, a target school's admin enrols its own
students and sees its own students' results, nothing more; no page shows another school's data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from courses import enrolment, workflow
from courses.db import utcnow
from courses.models import ChatMessage, LiveSession, Recording
from tests.factories import course_input


@pytest.fixture()
def shared(web_world, db_session):
    """An office-level course for schools A and B, running, both schools' classes enrolled, a live lesson now."""
    w = web_world
    c = workflow.submit_request(
        db_session, w["office_admin"], course_input(w, level="office", instructor_id=w["instructor"].id)
    )
    workflow.approve(db_session, w["office_admin"], c)
    workflow.start(db_session, w["office_admin"], c)
    enrolment.enrol_group(db_session, w["school_admin"], c, school_id=w.school.id, class_id=w.cls.id)
    enrolment.enrol_group(db_session, w["school_b_admin"], c, school_id=w.school_b.id, class_id=w.cls_b.id)
    starts = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    workflow.update_lesson(
        db_session,
        w["instructor"],
        c,
        c.lessons[0].id,
        title="1차시",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=40),
        description="",
    )
    ls = db_session.query(LiveSession).filter_by(lesson_id=c.lessons[0].id).one()
    now = utcnow()
    db_session.add_all(
        [
            ChatMessage(live_session_id=ls.id, user_id=w["student"].id, at=now, text="가람초 학생의 질문"),
            ChatMessage(
                live_session_id=ls.id, user_id=w["student_b"].id, at=now, text="가온초 학생의 비밀 질문"
            ),
            ChatMessage(live_session_id=ls.id, user_id=w["instructor"].id, at=now, text="강사의 안내"),
            Recording(
                live_session_id=ls.id,
                object_key=f"recordings/{ls.room}/1.webm",
                content_type="video/webm",
                duration_s=60.0,
                size=1000,
            ),
        ]
    )
    db_session.commit()
    return c, ls


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("start", {}),
        ("complete", {}),
        ("cancel", {"reason": "x"}),
        ("confirm", {}),
        ("instructor", {"instructor_mode": "office", "instructor_id": "0"}),
        ("materials", {"title": "자료", "url": "https://example.org/a"}),
    ],
)
def test_target_school_admin_cannot_run_it(login, web_world, shared, path, data):
    course, _ls = shared
    c = login(web_world["school_admin"])
    if path == "instructor":
        data = {**data, "instructor_id": str(web_world["external"].id), "instructor_mode": "external"}
    r = c.post(f"/courses/{course.id}/{path}", data={**data, "csrf_token": c.csrf()})
    assert r.status_code in (403, 409)
    page = c.get(f"/courses/{course.id}").get_data(as_text=True)
    for button in ("/start", "/complete", "/instructor"):
        assert f'action="/courses/{course.id}{button}"' not in page


def test_target_school_admin_cannot_edit_lessons_or_join_as_admin(login, web_world, shared):
    course, ls = shared
    c = login(web_world["school_admin"])
    r = c.post(
        f"/courses/{course.id}/lessons/{course.lessons[1].id}",
        data={"title": "바꾼 제목", "starts_at": "", "ends_at": "", "csrf_token": c.csrf()},
    )
    assert r.status_code == 403
    r = c.post(f"/live/{ls.id}/token", headers={"X-CSRFToken": c.csrf()})
    assert r.status_code == 403
    r = c.post(f"/live/{ls.id}/end", data={"csrf_token": c.csrf()})
    assert r.status_code == 403


def test_the_office_and_instructor_still_run_it(login, web_world, shared):
    course, ls = shared
    c = login(web_world["instructor"])
    assert c.post(f"/live/{ls.id}/token", headers={"X-CSRFToken": c.csrf()}).get_json()["role"] == "teacher"
    c = login(web_world["office_admin"])
    assert c.post(f"/live/{ls.id}/token", headers={"X-CSRFToken": c.csrf()}).get_json()["role"] == "admin"


@pytest.mark.parametrize("who", ["school_admin", "teacher"])
def test_attendance_page_and_exports_show_only_their_school(login, web_world, shared, who):
    course, ls = shared
    w = web_world
    c = login(w[who])
    page = c.get(f"/live/{ls.id}/attendance")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert w["student"].name in body and "가람초 학생의 질문" in body and "강사의 안내" in body
    assert w["student_b"].name not in body and "가온초 학생의 비밀 질문" not in body
    assert "1.webm" not in body and "<video" not in body
    for fmt in ("csv", "xlsx"):
        export = c.get(f"/live/{ls.id}/attendance?format={fmt}")
        assert export.status_code == 200
        text = export.get_data().decode("utf-8", "replace") if fmt == "csv" else _xlsx_text(export.get_data())
        assert w["student"].name in text and w["student_b"].name not in text
    roster = c.get(f"/courses/{course.id}/enrolment").get_data(as_text=True)
    assert w["student"].name in roster and w["student_b"].name not in roster


def test_the_office_sees_every_school(login, web_world, shared):
    _course, ls = shared
    c = login(web_world["office_admin"])
    body = c.get(f"/live/{ls.id}/attendance").get_data(as_text=True)
    assert web_world["student_b"].name in body and "가온초 학생의 비밀 질문" in body
    assert "<video" in body


def _xlsx_text(data: bytes) -> str:
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    return " ".join(
        str(cell.value) for ws in wb for row in ws.iter_rows() for cell in row if cell.value is not None
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_export_neutralises_formulas(login, web_world, shared, db_session, fmt):
    _course, ls = shared
    w = web_world
    w["student"].name = '=HYPERLINK("http://evil.example","클릭")'
    w.school.name = "+가람초"
    db_session.commit()
    for who, path in (
        ("office_admin", f"/live/{ls.id}/attendance?format={fmt}"),
        ("office_admin", f"/reports/enrolment?format={fmt}"),
    ):
        data = login(w[who]).get(path).get_data()
        cells = _cells(data, fmt)
        assert not [v for v in cells if isinstance(v, str) and v and v[0] in "=+-@\t\r"], cells
        assert any(isinstance(v, str) and v.startswith("'=HYPERLINK") or v == "'+가람초" for v in cells)


def _cells(data: bytes, fmt: str) -> list[object]:
    import csv
    import io

    if fmt == "csv":
        return [v for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for v in row]
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    out: list[object] = []
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                out.append(cell.value)
    return out
