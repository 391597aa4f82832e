"""Role × resource × action through HTTP. Outside scope the answer is 404 (or 403), never the data."""

from __future__ import annotations

import pytest

from courses import enrolment, workflow
from tests.factories import course_input

ROLES = [
    "office_admin",
    "other_office_admin",
    "school_admin",
    "school_b_admin",
    "foreign_admin",
    "teacher",
    "teacher2",
    "teacher_b",
    "foreign_teacher",
    "student",
    "student2",
    "student_b",
    "foreign_student",
    "parent",
    "instructor",
]

# Who may VIEW a class-level course of 가람초 5-1 that 'teacher' requested, with 'instructor' assigned
# and 'student' enrolled. teacher2 teaches 5-2 only, so a class-level course for 5-1 is not theirs.
CAN_VIEW = {"office_admin", "school_admin", "teacher", "student", "parent", "instructor"}
# Who may manage enrolment (requester, instructor, the school's admin, the office's admin).
CAN_ENROL = {"office_admin", "school_admin", "teacher", "instructor"}


@pytest.fixture()
def course(web_world, db_session):
    w = web_world
    c = workflow.submit_request(db_session, w["teacher"], course_input(w, instructor_id=w["instructor"].id))
    workflow.approve(db_session, w["school_admin"], c)
    enrolment.enrol_students(db_session, w["teacher"], c, [w["student"].id])
    db_session.commit()
    return c


@pytest.mark.parametrize("role", ROLES)
def test_view_course_page(login, web_world, course, role):
    c = login(web_world[role])
    r = c.get(f"/courses/{course.id}")
    if role in CAN_VIEW:
        assert r.status_code == 200 and course.title in r.get_data(as_text=True)
    else:
        assert r.status_code == 404
        assert course.title not in r.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_course_list_shows_only_visible(login, web_world, course, role):
    c = login(web_world[role])
    page = c.get("/courses/").get_data(as_text=True)
    assert (course.title in page) == (role in CAN_VIEW)


@pytest.mark.parametrize("role", ROLES)
def test_enrolment_page_and_group_enrol(login, web_world, course, role):
    c = login(web_world[role])
    r = c.post(
        f"/courses/{course.id}/enrolment",
        data={
            "op": "group",
            "school_id": web_world.school.id,
            "class_id": web_world.cls.id,
            "csrf_token": c.csrf(),
        },
    )
    if role in CAN_ENROL:
        assert r.status_code == 302
    elif role in CAN_VIEW:
        assert r.status_code == 403
    else:
        assert r.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_enrolled_student_names_never_leak(login, web_world, course, role):
    c = login(web_world[role])
    r = c.get(f"/courses/{course.id}/enrolment")
    body = r.get_data(as_text=True)
    from sqlalchemy import select

    from app.extensions import db
    from courses.models import User

    classmate = db.session.scalar(select(User).where(User.username == "a51-s2"))
    enrolment.enrol_students(db.session, web_world["teacher"], course, [classmate.id])
    db.session.commit()
    r = c.get(f"/courses/{course.id}/enrolment")
    body = r.get_data(as_text=True)
    student_name = classmate.name  # not the viewer's own name, which the header shows
    if role in ("office_admin", "school_admin", "teacher", "instructor"):
        assert r.status_code == 200 and student_name in body
    else:
        assert student_name not in body
        assert r.status_code in (403, 404)


@pytest.mark.parametrize(
    "action", ["start", "cancel", "complete", "confirm", "withdraw", "approve", "reject"]
)
@pytest.mark.parametrize(
    "role",
    ["teacher_b", "school_b_admin", "foreign_admin", "other_office_admin", "foreign_teacher", "student_b"],
)
def test_cross_school_workflow_actions_are_not_found(login, web_world, course, role, action):
    c = login(web_world[role])
    r = c.post(f"/courses/{course.id}/{action}", data={"reason": "x", "csrf_token": c.csrf()})
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("teacher", 302),
        ("school_admin", 302),
        ("student", 403),
        ("parent", 403),
        ("teacher2", 404),
        ("school_b_admin", 404),
    ],
)
def test_start_course(login, web_world, course, role, expected):
    c = login(web_world[role])
    r = c.post(f"/courses/{course.id}/start", data={"csrf_token": c.csrf()})
    assert r.status_code == expected


@pytest.mark.parametrize(("role", "expected"), [("teacher", 302), ("student", 403), ("teacher_b", 404)])
def test_edit_lesson_and_material(login, web_world, course, role, expected):
    c = login(web_world[role])
    lesson_id = course.lessons[0].id
    r = c.post(
        f"/courses/{course.id}/lessons/{lesson_id}",
        data={
            "title": "바뀐 제목",
            "starts_at": "",
            "ends_at": "",
            "description": "",
            "csrf_token": c.csrf(),
        },
    )
    assert r.status_code == expected
    r = c.post(
        f"/courses/{course.id}/materials",
        data={"title": "자료", "url": "https://example.org/a.pdf", "csrf_token": c.csrf()},
    )
    assert r.status_code == expected


@pytest.mark.parametrize(
    ("role", "path", "expected"),
    [
        ("student", "/courses/new", 403),
        ("parent", "/courses/new", 403),
        ("instructor", "/courses/new", 403),
        ("teacher", "/courses/new", 200),
        ("student", "/instructors", 403),
        ("teacher", "/instructors", 200),
        ("teacher", "/reports/enrolment", 403),
        ("school_admin", "/reports/enrolment", 200),
        ("school_admin", "/admin/themes/1", 403),
        ("teacher", "/admin/themes/1", 403),
    ],
)
def test_role_pages(login, web_world, role, path, expected):
    c = login(web_world[role])
    if path.startswith("/admin/themes/"):
        path = f"/admin/themes/{web_world.themes[0].id}"
    assert c.get(path).status_code == expected


def test_school_report_shows_only_own_school(login, web_world, course):
    c = login(web_world["school_b_admin"])
    page = c.get("/reports/enrolment").get_data(as_text=True)
    assert "5" in page and "가람초" not in page
    office = login(web_world["office_admin"]).get("/reports/enrolment").get_data(as_text=True)
    assert "가람초" in office and "가온초" in office and "나래초" not in office


def test_nonexistent_and_foreign_course_look_the_same(login, web_world, course):
    c = login(web_world["foreign_admin"])
    a = c.get(f"/courses/{course.id}")
    b = c.get("/courses/999999")
    assert a.status_code == b.status_code == 404
    import re

    def strip(body: bytes) -> bytes:  # the CSRF token carries a timestamp; the language form the path
        return re.sub(rb'name="(csrf_token|next)" value="[^"]+"', b"", body)

    assert strip(a.get_data()) == strip(b.get_data())
