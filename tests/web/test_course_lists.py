"""Course lists a person can narrow: by title, school, theme and status; approvals show who asked, for whom, when."""

from __future__ import annotations

import html

import pytest

from courses import workflow
from courses.models import CourseStatus
from tests.factories import course_input


@pytest.fixture()
def requests(web_world, db_session):  # type: ignore[no-untyped-def]
    """A class course of school A (pending), a school course of school B (approved), an office course."""
    w = web_world
    a = workflow.submit_request(db_session, w["teacher"], course_input(w, title="생활 안전 교실 A"))
    b = workflow.submit_request(
        db_session,
        w["teacher_b"],
        course_input(w, level="class", class_id=w.cls_b.id, title="환경 지킴이 B", theme_id=w.themes[1].id),
    )
    workflow.approve(db_session, w["school_b_admin"], b, "좋습니다")
    office = workflow.submit_request(
        db_session, w["office_admin"], course_input(w, level="office", title="교육청 진로 특강")
    )
    db_session.commit()
    return {"a": a, "b": b, "office": office}


def _titles(page: str) -> set[str]:
    return {t for t in ("생활 안전 교실 A", "환경 지킴이 B", "교육청 진로 특강") if t in page}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"생활 안전 교실 A", "환경 지킴이 B", "교육청 진로 특강"}),
        ("q=안전", {"생활 안전 교실 A"}),
        ("q=%25", set()),  # a literal %, not a wildcard
        ("q=진로+특강", {"교육청 진로 특강"}),
        ("school_id={school_b}", {"환경 지킴이 B", "교육청 진로 특강"}),  # B's own course and a course for B
        ("theme_id={theme1}", {"환경 지킴이 B"}),
        ("status=approved", {"환경 지킴이 B"}),
        ("status=submitted&school_id={school}", {"생활 안전 교실 A", "교육청 진로 특강"}),
        ("school_id=99999999999999999999", set()),  # no such school: nothing, and no error
        ("theme_id=abc", {"생활 안전 교실 A", "환경 지킴이 B", "교육청 진로 특강"}),
    ],
)
def test_the_office_narrows_the_course_list(login, web_world, requests, query, expected) -> None:  # type: ignore[no-untyped-def]
    w = web_world
    q = query.format(school=w.school.id, school_b=w.school_b.id, theme1=w.themes[1].id)
    r = login(w["office_admin"]).get(f"/courses/?{q}")
    assert r.status_code == 200
    assert _titles(html.unescape(r.get_data(as_text=True))) == expected


def test_an_unknown_status_is_a_400(login, web_world) -> None:  # type: ignore[no-untyped-def]
    assert login(web_world["office_admin"]).get("/courses/?status=nope").status_code == 400


def test_a_school_never_finds_another_schools_course_by_filtering(login, web_world, requests) -> None:  # type: ignore[no-untyped-def]
    w = web_world
    page = login(w["school_admin"]).get(f"/courses/?school_id={w.school_b.id}").get_data(as_text=True)
    assert "환경 지킴이 B" not in page
    assert 'id="school_id"' not in page  # a school admin gets no school filter


def test_approvals_show_requester_target_and_date(login, web_world, requests) -> None:  # type: ignore[no-untyped-def]
    w = web_world
    page = html.unescape(login(w["school_admin"]).get("/").get_data(as_text=True))
    pending = page[page.index("승인 대기") :]
    assert "생활 안전 교실 A" in pending
    assert w["teacher"].name in pending and "5학년 1반" in pending
    assert requests["a"].created_at.strftime("%Y-") in pending
    office_home = html.unescape(login(w["office_admin"]).get("/").get_data(as_text=True))
    assert 'action="/courses/"' in office_home and 'id="school_id"' in office_home
    assert requests["office"].status == CourseStatus.submitted
