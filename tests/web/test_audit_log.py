"""Reads and exports of students' records are logged (who, what, when, from where); office admins filter them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from courses.models import AccessAction, AccessLog
from tests.live_support import live_course


@pytest.fixture()
def running(web_world, db_session):
    course, ls = live_course(db_session, web_world)
    db_session.commit()
    return course, ls


def _log(db_session):
    db_session.expire_all()
    return list(db_session.scalars(select(AccessLog).order_by(AccessLog.id)))


@pytest.mark.parametrize(
    ("who", "path", "action"),
    [
        ("teacher", "/live/{live}/attendance", AccessAction.attendance_viewed),
        ("school_admin", "/live/{live}/attendance?format=csv", AccessAction.attendance_exported),
        ("office_admin", "/live/{live}/attendance?format=xlsx", AccessAction.attendance_exported),
        ("teacher", "/courses/{course}/enrolment", AccessAction.enrolment_viewed),
        ("teacher", "/api/v1/courses/{course}/enrolments", AccessAction.enrolment_viewed),
        ("school_admin", "/reports/enrolment", AccessAction.enrolment_report_viewed),
        ("office_admin", "/reports/enrolment?format=csv", AccessAction.enrolment_report_exported),
    ],
)
def test_each_read_is_logged_with_who_what_when_where(
    login, web_world, running, db_session, who, path, action
):
    course, ls = running
    c = login(web_world[who])
    before = len(_log(db_session))
    r = c.get(path.format(live=ls.id, course=course.id), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 200
    entries = _log(db_session)
    assert len(entries) == before + 1
    e = entries[-1]
    assert (e.actor_id, e.action, e.ip) == (web_world[who].id, action, "10.1.2.3") and e.at is not None


def test_refused_reads_are_not_logged_as_reads(login, web_world, running, db_session):
    _course, ls = running
    c = login(web_world["student"])
    assert c.get(f"/live/{ls.id}/attendance").status_code == 403
    assert _log(db_session) == []


def test_roster_import_is_logged(login, web_world, db_session):
    c = login(web_world["office_admin"])
    orgs = b"sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
    r = c.post(
        "/admin/import",
        data={"csrf_token": c.csrf(), "files": [(__import__("io").BytesIO(orgs), "orgs.csv")]},
        content_type="multipart/form-data",
    )
    assert r.status_code in (200, 422)
    if r.status_code == 200:
        assert [e.action for e in _log(db_session)] == [AccessAction.roster_imported]


def test_office_admin_filters_and_exports_the_log(login, web_world, running, db_session):
    _course, ls = running
    login(web_world["teacher"]).get(f"/live/{ls.id}/attendance")
    login(web_world["school_admin"]).get("/reports/enrolment")
    c = login(web_world["office_admin"])
    page = c.get("/admin/audit").get_data(as_text=True)
    cell = "<td>{}</td>".format
    assert cell("출석 현황 열람") in page and cell("수강 통계 열람") in page
    only = c.get(f"/admin/audit?person={web_world['teacher'].username}").get_data(as_text=True)
    assert cell("출석 현황 열람") in only and cell("수강 통계 열람") not in only
    by_action = c.get("/admin/audit?action=enrolment_report_viewed").get_data(as_text=True)
    assert cell("수강 통계 열람") in by_action and cell("출석 현황 열람") not in by_action
    assert "기록이 없습니다" in c.get("/admin/audit?since=2001-01-01&until=2001-01-02").get_data(as_text=True)
    csv = c.get("/admin/audit?format=csv").get_data().decode("utf-8-sig")
    assert web_world["teacher"].username in csv
    assert _log(db_session)[-1].action == AccessAction.audit_log_exported


@pytest.mark.parametrize(
    "query",
    [
        "action=nope",
        "since=0001-01-01",
        "until=2026-02-30",
        "page=99999999999999999999",
        "person=%00",
        "format=pdf",
    ],
)
def test_bad_filters_are_clear_errors(login, web_world, query):
    r = login(web_world["office_admin"]).get(f"/admin/audit?{query}")
    assert r.status_code in (200, 400, 422)


@pytest.mark.parametrize("who", ["school_admin", "teacher", "student", "other_office_admin"])
def test_only_the_offices_admins_read_the_log(login, web_world, running, who):
    _course, ls = running
    login(web_world["teacher"]).get(f"/live/{ls.id}/attendance")
    r = login(web_world[who]).get("/admin/audit")
    if who == "other_office_admin":
        assert r.status_code == 200 and web_world["teacher"].username not in r.get_data(as_text=True)
    else:
        assert r.status_code == 404


def test_the_log_names_what_was_read_never_a_raw_id(login, web_world, running, db_session):
    course, ls = running
    login(web_world["teacher"]).get(f"/live/{ls.id}/attendance")
    login(web_world["teacher"]).get(f"/courses/{course.id}/enrolment")
    login(web_world["school_admin"]).get("/reports/enrolment")
    c = login(web_world["office_admin"])
    page = c.get("/admin/audit").get_data(as_text=True)
    assert f"<td>{course.title} · " in page  # the live session: its course and lesson
    assert f"<td>{course.title}</td>" in page  # the course's enrolment list
    assert "<td>통계</td>" in page
    assert f"live_session {ls.id}" not in page and f"course {course.id}" not in page
    csv = c.get("/admin/audit?format=csv").get_data().decode("utf-8-sig")
    assert course.title in csv and f"course {course.id}" not in csv
