"""The JSON API at /api/v1: every endpoint's happy path and every error class, through the test client."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from courses import workflow
from courses.models import Course, CourseStatus, Enrolment, Notification, User
from tests.factories import course_input

API = "/api/v1"


class Api:
    """A logged-in test client speaking JSON, with the CSRF token on every write."""

    def __init__(self, client: Any, token: str | None) -> None:
        self.client = client
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        """One request; `body` goes out as JSON unless `data` is given instead."""
        headers = dict(kwargs.pop("headers", {}))
        if csrf and method != "GET" and self.token:
            headers["X-CSRFToken"] = self.token
        if body is not None:
            kwargs["json"] = body
        return self.client.open(API + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture()
def api(login):  # type: ignore[no-untyped-def]
    """api(user) → an Api logged in as that user."""

    def _api(user: User) -> Api:
        c = login(user)
        return Api(c, c.csrf())

    return _api


@pytest.fixture()
def anonymous(client) -> Api:  # type: ignore[no-untyped-def]
    """An Api with no session, but holding a valid CSRF token from the login page."""
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert token
    return Api(client, token.group(1).decode())


def make_course(
    session,
    world,
    requester: str = "teacher",
    level: str = "class",
    status: str = "submitted",
    **overrides: Any,
) -> int:  # type: ignore[no-untyped-def]
    """A course through the services, moved on to `status`; its id."""

    def person(key: str) -> User:
        return session.get(User, world[key].id)  # type: ignore[no-any-return]

    course = workflow.submit_request(session, person(requester), course_input(world, level, **overrides))
    approver = person("school_admin" if level == "class" else "office_admin")
    if status in ("approved", "running", "completed"):
        workflow.approve(session, approver, course)
    if status in ("running", "completed"):
        workflow.start(session, approver, course)
    if status == "completed":
        workflow.complete(session, approver, course)
    if status == "withdrawn":
        workflow.withdraw(session, person(requester), course)
    session.commit()  # a savepoint here (see conftest): each request ends by closing the session
    return course.id


def course_body(world, level: str = "class", **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A valid POST /courses body (dates as ISO strings, targets as objects); override any key."""
    body = asdict(course_input(world, level))
    body["start_date"], body["end_date"] = body["start_date"].isoformat(), body["end_date"].isoformat()
    body.update(overrides)
    return body


def error(resp: Any, status: int) -> dict[str, Any]:
    """The error object of a JSON error response, after checking its status."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.is_json, resp.get_data(as_text=True)[:200]
    return resp.get_json()["error"]  # type: ignore[no-any-return]


def ok(resp: Any, status: int = 200) -> Any:
    """The JSON body of a successful response, after checking its status."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    return resp.get_json()


# -- account and catalogue -------------------------------------------------------------------------


def test_me_gives_the_user_the_language_and_a_working_csrf_token(web_world, api):
    a = api(web_world["teacher"])
    resp = a.get("/me")
    body = ok(resp)
    assert body["user"]["username"] == "teacher"
    assert body["user"]["role"] == "teacher"
    assert body["user"]["org_name"] == "가람초"
    assert body["locale"] == "ko"
    assert resp.headers["Content-Language"] == "ko"
    assert resp.headers["Cache-Control"] == "no-store"
    # The token from /me is enough to write.
    a.token = body["csrf_token"]
    assert ok(a.post("/notifications/read")) == {"marked": 0}


def test_messages_follow_the_sessions_language(web_world, api):
    a = api(web_world["teacher"])
    assert a.client.post("/lang/en", data={"csrf_token": a.token}).status_code == 302
    resp = a.get("/me")
    assert ok(resp)["locale"] == "en"
    assert resp.headers["Content-Language"] == "en"


@pytest.mark.parametrize("how", ["query", "header"])
def test_lang_query_or_accept_language_gives_english(web_world, api, how):
    a = api(web_world["teacher"])
    resp = a.get("/me?lang=en") if how == "query" else a.get("/me", headers={"Accept-Language": "en"})
    assert ok(resp)["locale"] == "en"


def test_themes_with_elements_and_delivery_formats(web_world, api):
    body = ok(api(web_world["student"]).get("/themes"))
    assert len(body["themes"]) == 10
    safety = body["themes"][0]
    assert safety["code"] == "safety_health" and safety["name"] == "안전·건강"
    assert safety["name_en"] == "Safety and health"
    assert [el["name"] for el in safety["elements"]][:2] == ["생활 안전", "교통 안전"]
    assert [d["value"] for d in body["deliveries"]] == ["live", "recorded", "blended"]
    assert body["deliveries"][0]["label"] == "실시간 쌍방향"


# -- courses ---------------------------------------------------------------------------------------


def test_list_courses_in_scope_filtered_and_paged(db_session, web_world, api):
    first = make_course(db_session, web_world)
    second = make_course(db_session, web_world, status="approved", title="교통 안전 교실")
    make_course(db_session, web_world, requester="teacher_b", class_id=web_world.cls_b.id)
    a = api(web_world["teacher"])
    body = ok(a.get("/courses"))
    assert [c["id"] for c in body["items"]] == [second, first]
    assert body["has_more"] is False and body["limit"] == 50 and body["offset"] == 0
    assert body["items"][0]["status"] == "approved" and body["items"][0]["status_label"] == "승인됨"
    assert body["items"][0]["theme"]["name"] == "안전·건강"
    assert [c["id"] for c in ok(a.get("/courses?status=submitted"))["items"]] == [first]
    page = ok(a.get("/courses?limit=1"))
    assert [c["id"] for c in page["items"]] == [second] and page["has_more"] is True
    page = ok(a.get("/courses?limit=1&offset=1"))
    assert [c["id"] for c in page["items"]] == [first] and page["has_more"] is False
    assert ok(api(web_world["teacher2"]).get("/courses"))["items"] == []


def test_teacher_requests_a_class_course(db_session, web_world, api):
    a = api(web_world["teacher"])
    resp = a.post("/courses", course_body(web_world))
    body = ok(resp, 201)
    assert resp.headers["Location"] == f"{API}/courses/{body['id']}"
    assert body["status"] == "submitted" and body["level"] == "class"
    assert body["requester"]["id"] == web_world["teacher"].id
    assert body["targets"] == [
        {
            "school_id": web_world.school.id,
            "school_name": "가람초",
            "grade": 5,
            "class_id": web_world.cls.id,
            "class_label": "5학년 1반",
        }
    ]
    assert [lesson["title"] for lesson in body["lessons"]] == ["1차시", "2차시", "3차시", "4차시"]
    assert [(h["kind"], h["from"], h["to"]) for h in body["history"]] == [("status", None, "submitted")]
    assert "withdraw" in body["allowed_actions"] and "approve" not in body["allowed_actions"]
    assert ok(a.get(resp.headers["Location"].removeprefix(API)))["id"] == body["id"]
    # The approver hears of it, as from the HTML form.
    notified = db_session.scalars(
        select(Notification.user_id).where(Notification.link == f"/courses/{body['id']}")
    )
    assert set(notified) == {web_world["school_admin"].id}


def test_office_admin_requests_an_office_course_with_json_targets(web_world, api):
    body = course_body(
        web_world,
        "office",
        targets=[
            {"school_id": web_world.school.id, "grade": 5},
            {"school_id": web_world.school_b.id, "class_id": web_world.cls_b.id},
        ],
    )
    created = ok(api(web_world["office_admin"]).post("/courses", body), 201)
    assert created["level"] == "office"
    assert [(t["school_id"], t["grade"], t["class_id"]) for t in created["targets"]] == [
        (web_world.school.id, 5, None),
        (web_world.school_b.id, 5, web_world.cls_b.id),
    ]


def test_course_detail_shows_everything_its_page_shows(db_session, web_world, api):
    course_id = make_course(db_session, web_world, status="approved")
    db_session.add(Enrolment(course_id=course_id, student_id=web_world["student"].id))
    workflow.add_material(
        db_session,
        db_session.get(User, web_world["teacher"].id),
        db_session.get(Course, course_id),
        title="안내문",
        url="https://example.org/a.pdf",
    )
    db_session.commit()
    body = ok(api(web_world["school_admin"]).get(f"/courses/{course_id}"))
    assert body["enrolled"] == 1
    assert (
        body["materials"][0]["title"] == "안내문"
        and body["materials"][0]["url"] == "https://example.org/a.pdf"
    )
    assert [h["to"] for h in body["history"]] == ["submitted", "approved"]
    assert body["history"][1]["actor"] == {"id": web_world["school_admin"].id, "name": "school-admin"}
    assert {"cancel", "start", "enrol", "assign_instructor"} <= set(body["allowed_actions"])
    assert body["allowed_actions"] == sorted(body["allowed_actions"])
    # A student sees the course they are enrolled in, and the visit is remembered.
    assert ok(api(web_world["student"]).get(f"/courses/{course_id}"))["allowed_actions"] == []
    seen = db_session.scalar(select(Enrolment.last_accessed_at).where(Enrolment.course_id == course_id))
    assert seen is not None


def test_the_whole_workflow_through_the_api(db_session, web_world, api):
    teacher, school = api(web_world["teacher"]), api(web_world["school_admin"])
    course_id = ok(teacher.post("/courses", course_body(web_world)), 201)["id"]
    approved = ok(school.post(f"/courses/{course_id}/actions/approve", {"reason": "좋습니다"}))
    assert approved["status"] == "approved" and approved["decision_reason"] == "좋습니다"
    ok(teacher.post(f"/courses/{course_id}/enrolments", {"student_ids": [web_world["student"].id]}))
    assert ok(teacher.post(f"/courses/{course_id}/actions/start"))["status"] == "running"
    assert ok(teacher.post(f"/courses/{course_id}/actions/complete", {}))["status"] == "completed"
    confirmed = ok(school.post(f"/courses/{course_id}/actions/confirm"))
    assert confirmed["status"] == "confirmed" and confirmed["status_label"] == "이수 확인"
    assert [h["to"] for h in confirmed["history"]] == [
        "submitted",
        "approved",
        "+1",  # one student enrolled
        "running",
        "completed",
        "confirmed",  # the school's confirmation of its students
        "confirmed",  # the course's status, every school having confirmed
    ]


def test_reject_withdraw_and_cancel(db_session, web_world, api):
    rejected_id = make_course(db_session, web_world)
    withdrawn_id = make_course(db_session, web_world)
    cancelled_id = make_course(db_session, web_world, status="approved")
    school, teacher = api(web_world["school_admin"]), api(web_world["teacher"])
    rejected = ok(
        school.post(f"/courses/{rejected_id}/actions/reject", {"reason": "대상 학급을 다시 확인하세요."})
    )
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "대상 학급을 다시 확인하세요."
    assert ok(teacher.post(f"/courses/{withdrawn_id}/actions/withdraw"))["status"] == "withdrawn"
    cancelled = ok(school.post(f"/courses/{cancelled_id}/actions/cancel", {"reason": "일정 변경"}))
    assert cancelled["status"] == "cancelled" and cancelled["history"][-1]["detail"] == "일정 변경"


def test_assign_an_instructor(db_session, web_world, api):
    course_id = make_course(db_session, web_world, status="approved")
    instructor = web_world["instructor"]
    body = ok(
        api(web_world["school_admin"]).put(
            f"/courses/{course_id}/instructor", {"instructor_mode": "office", "instructor_id": instructor.id}
        )
    )
    assert body["instructor_id"] == instructor.id and body["instructor"]["name"] == "instructor"
    assert body["history"][-1]["kind"] == "instructor"
    # The instructor now sees the course.
    assert [c["id"] for c in ok(api(instructor).get("/courses"))["items"]] == [course_id]


# -- enrolment -------------------------------------------------------------------------------------


def test_enrol_a_class_list_and_remove_a_student(db_session, web_world, api):
    course_id = make_course(db_session, web_world, status="approved")
    teacher = api(web_world["teacher"])
    assert ok(
        teacher.post(
            f"/courses/{course_id}/enrolments",
            {"school_id": web_world.school.id, "class_id": web_world.cls.id},
        )
    ) == {"added": 5}
    listed = ok(teacher.get(f"/courses/{course_id}/enrolments"))
    assert listed["total"] == 5 and len(listed["items"]) == 5 and listed["has_more"] is False
    first = listed["items"][0]
    assert first["student"]["id"] == web_world["student"].id and first["number"] == 1
    assert first["class"] == {"id": web_world.cls.id, "grade": 5, "label": "5학년 1반"}
    page = ok(teacher.get(f"/courses/{course_id}/enrolments?limit=2&offset=2"))
    assert [r["number"] for r in page["items"]] == [3, 4] and page["has_more"] is True

    resp = teacher.delete(f"/courses/{course_id}/enrolments/{web_world['student'].id}")
    assert resp.status_code == 204 and resp.data == b""
    assert ok(teacher.get(f"/courses/{course_id}/enrolments"))["total"] == 4
    assert ok(
        teacher.post(f"/courses/{course_id}/enrolments", {"student_ids": [web_world["student"].id]})
    ) == {"added": 1}
    # Enrolling again adds nobody.
    assert ok(
        teacher.post(f"/courses/{course_id}/enrolments", {"school_id": web_world.school.id, "grade": 5})
    ) == {"added": 0}


def test_office_course_enrols_across_schools_and_each_school_sees_its_own(db_session, web_world, api):
    course_id = make_course(db_session, web_world, requester="office_admin", level="office", status="running")
    office = api(web_world["office_admin"])
    assert (
        ok(office.post(f"/courses/{course_id}/enrolments", {"school_id": web_world.school_b.id}))["added"]
        == 5
    )
    assert (
        ok(
            office.post(
                f"/courses/{course_id}/enrolments",
                {"student_ids": [web_world["student"].id, web_world["student2"].id]},
            )
        )["added"]
        == 2
    )
    school_b = ok(api(web_world["school_b_admin"]).get(f"/courses/{course_id}/enrolments"))
    assert {r["school_id"] for r in school_b["items"]} == {web_world.school_b.id} and len(
        school_b["items"]
    ) == 5


# -- instructors and notifications -----------------------------------------------------------------


def test_instructor_pool_with_theme_filter(web_world, api):
    a = api(web_world["teacher"])
    pool = ok(a.get("/instructors"))["items"]
    assert {p["id"] for p in pool} == {web_world["instructor"].id, web_world["external"].id}
    assert [p["external"] for p in pool] == [False, True]
    third_theme = web_world.themes[2].id
    only = ok(a.get(f"/instructors?theme_id={third_theme}"))["items"]
    assert [p["id"] for p in only] == [web_world["external"].id]
    assert only[0]["themes"] == [{"id": third_theme, "name": "진로"}]


def test_notifications_list_and_mark_read(db_session, web_world, api):
    make_course(db_session, web_world)
    school = api(web_world["school_admin"])
    listed = ok(school.get("/notifications"))
    assert listed["unread"] == 1
    assert listed["items"][0]["title"] == "새 강좌 요청" and listed["items"][0]["read_at"] is None
    assert ok(school.post("/notifications/read")) == {"marked": 1}
    listed = ok(school.get("/notifications"))
    assert listed["unread"] == 0 and listed["items"][0]["read_at"] is not None
    assert ok(school.get("/me"))["unread_notifications"] == 0


# -- 400: malformed bodies and missing CSRF --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"data": "{not json", "content_type": "application/json"}, "JSON 형식"),
        ({"data": "[1, 2]", "content_type": "application/json"}, "JSON 객체여야"),
        ({"data": '"a string"', "content_type": "application/json"}, "JSON 객체여야"),
        ({"data": "null", "content_type": "application/json"}, "JSON 객체여야"),
        ({"data": "title=x", "content_type": "application/x-www-form-urlencoded"}, "application/json"),
        ({}, "JSON 객체가 필요"),
    ],
    ids=["malformed", "array", "string", "null", "form-encoded", "empty"],
)
def test_bodies_that_are_not_json_objects_are_400_with_a_clear_message(web_world, api, kwargs, needle):
    err = error(api(web_world["teacher"]).post("/courses", **kwargs), 400)
    assert err["code"] == "BadRequest"
    assert needle in err["message"]


def test_malformed_json_is_400_on_optional_bodies_too(db_session, web_world, api):
    course_id = make_course(db_session, web_world)
    a = api(web_world["teacher"])
    err = error(
        a.post(f"/courses/{course_id}/actions/withdraw", data="{", content_type="application/json"), 400
    )
    assert err["code"] == "BadRequest"
    assert error(a.put(f"/courses/{course_id}/instructor"), 400)["code"] == "BadRequest"


def write_routes(course_id: int, student_id: int) -> list[tuple[str, str, Any]]:
    """Every write route, with a body that would otherwise be acceptable in shape."""
    return [
        ("POST", "/courses", {}),
        *[("POST", f"/courses/{course_id}/actions/{a}", {"reason": "사유"}) for a in workflow_actions()],
        ("PUT", f"/courses/{course_id}/instructor", {"instructor_mode": "office", "instructor_id": 1}),
        ("POST", f"/courses/{course_id}/enrolments", {"student_ids": [student_id]}),
        ("DELETE", f"/courses/{course_id}/enrolments/{student_id}", None),
        ("POST", "/notifications/read", None),
    ]


def workflow_actions() -> list[str]:
    return ["approve", "reject", "withdraw", "cancel", "start", "complete", "confirm"]


def test_every_write_without_the_csrf_token_is_400_and_changes_nothing(db_session, web_world, api):
    course_id = make_course(db_session, web_world, status="approved")
    a = api(web_world["school_admin"])
    for method, path, body in write_routes(course_id, web_world["student"].id):
        err = error(a.call(method, path, body, csrf=False), 400)
        assert err["code"] == "CSRFError", (method, path)
        err = error(a.call(method, path, body, csrf=False, headers={"X-CSRFToken": "forged"}), 400)
        assert err["code"] == "CSRFError", (method, path)
    assert db_session.get(Course, course_id).status == CourseStatus.approved


# -- 401 -------------------------------------------------------------------------------------------


def test_anonymous_callers_get_401_everywhere_but_the_document(db_session, web_world, anonymous):
    course_id = make_course(db_session, web_world)
    reads = [
        "/me",
        "/themes",
        "/courses",
        f"/courses/{course_id}",
        f"/courses/{course_id}/enrolments",
        "/instructors",
        "/notifications",
    ]
    for path in reads:
        err = error(anonymous.get(path), 401)
        assert err["code"] == "Unauthorized" and "로그인" in err["message"], path
    for method, path, body in write_routes(course_id, web_world["student"].id):
        assert error(anonymous.call(method, path, body), 401)["code"] == "Unauthorized", (method, path)
    assert anonymous.get("/openapi.json").status_code == 200


# -- 403 -------------------------------------------------------------------------------------------


def test_visible_but_not_yours_is_403(db_session, web_world, api):
    submitted = make_course(db_session, web_world)
    approved = make_course(db_session, web_world, status="approved")
    db_session.add(Enrolment(course_id=approved, student_id=web_world["student"].id))
    db_session.commit()
    teacher, student = api(web_world["teacher"]), api(web_world["student"])
    cases = [
        # Requesters do not approve their own requests.
        (teacher, "POST", f"/courses/{submitted}/actions/approve", None),
        (teacher, "POST", f"/courses/{approved}/actions/cancel", {"reason": "x"}),
        (api(web_world["school_admin"]), "POST", f"/courses/{submitted}/actions/withdraw", None),
        (student, "POST", "/courses", course_body(web_world)),
        (student, "POST", f"/courses/{approved}/actions/start", None),
        (student, "GET", f"/courses/{approved}/enrolments", None),
        (student, "POST", f"/courses/{approved}/enrolments", {"student_ids": [web_world["student2"].id]}),
        (student, "DELETE", f"/courses/{approved}/enrolments/{web_world['student'].id}", None),
        (
            student,
            "PUT",
            f"/courses/{approved}/instructor",
            {"instructor_mode": "office", "instructor_id": web_world["instructor"].id},
        ),
        (student, "GET", "/instructors", None),
        (api(web_world["parent"]), "GET", "/instructors", None),
    ]
    for client, method, path, body in cases:
        err = error(client.call(method, path, body), 403)
        assert err["code"] == "Forbidden" and err["message"] == "권한이 없습니다.", (method, path)
    assert db_session.get(Course, submitted).status == CourseStatus.submitted


# -- 404: outside scope looks exactly like missing -------------------------------------------------


def course_routes(course_id: int, student_id: int) -> list[tuple[str, str, Any]]:
    """Every route that names a course."""
    return [
        ("GET", f"/courses/{course_id}", None),
        ("GET", f"/courses/{course_id}/enrolments", None),
        *[
            r
            for r in write_routes(course_id, student_id)
            if r[1] != "/courses" and "/notifications" not in r[1]
        ],
    ]


@pytest.mark.parametrize(
    "outsider",
    [
        "school_b_admin",
        "teacher2",
        "other_office_admin",
        "foreign_admin",
        "foreign_teacher",
        "student_b",
        "parent",
    ],
)
def test_every_course_endpoint_is_404_outside_scope(db_session, web_world, api, outsider):
    course_id = make_course(db_session, web_world, status="approved", title="비밀 강좌 제목")
    a = api(web_world[outsider])
    for method, path, body in course_routes(course_id, web_world["student"].id):
        resp = a.call(method, path, body)
        err = error(resp, 404)
        assert err["code"] == "NotFound", (method, path)
        assert "비밀" not in resp.get_data(as_text=True), (method, path)
        # Identical to a course that does not exist.
        missing = a.call(method, path.replace(f"/courses/{course_id}", "/courses/987654"), body)
        assert missing.status_code == 404 and missing.get_json() == resp.get_json(), (method, path)
    assert db_session.get(Course, course_id).status == CourseStatus.approved


def test_cross_office_enrolment_and_unknown_paths_are_404(db_session, web_world, api):
    course_id = make_course(
        db_session, web_world, requester="office_admin", level="office", status="approved"
    )
    office = api(web_world["office_admin"])
    foreign = web_world["foreign_student"].id
    assert (
        error(office.post(f"/courses/{course_id}/enrolments", {"student_ids": [foreign]}), 404)["code"]
        == "NotFound"
    )
    assert (
        error(
            office.post(f"/courses/{course_id}/enrolments", {"school_id": web_world.foreign_school.id}), 404
        )["code"]
        == "NotFound"
    )
    assert error(office.delete(f"/courses/{course_id}/enrolments/{foreign}"), 404)["code"] == "NotFound"
    assert error(office.post(f"/courses/{course_id}/actions/launch"), 404)["code"] == "NotFound"
    assert error(office.get("/nothing-here"), 404)["code"] == "NotFound"


# -- 409 -------------------------------------------------------------------------------------------


def test_invalid_transitions_are_409(db_session, web_world, api):
    submitted = make_course(db_session, web_world)
    withdrawn = make_course(db_session, web_world, status="withdrawn")
    teacher, school = api(web_world["teacher"]), api(web_world["school_admin"])
    cases = [
        (teacher, "POST", f"/courses/{submitted}/actions/start", None),
        (teacher, "POST", f"/courses/{withdrawn}/actions/withdraw", None),
        (school, "POST", f"/courses/{withdrawn}/actions/approve", None),
        (school, "POST", f"/courses/{submitted}/actions/confirm", None),
        (teacher, "POST", f"/courses/{submitted}/enrolments", {"school_id": web_world.school.id}),
        (teacher, "DELETE", f"/courses/{submitted}/enrolments/{web_world['student'].id}", None),
        (
            school,
            "PUT",
            f"/courses/{withdrawn}/instructor",
            {"instructor_mode": "office", "instructor_id": web_world["instructor"].id},
        ),
    ]
    for client, method, path, body in cases:
        err = error(client.call(method, path, body), 409)
        assert err["code"] == "InvalidTransition", (method, path)
    err = error(teacher.post(f"/courses/{submitted}/actions/start"), 409)
    assert err["message"] == "'승인 대기' 상태에서 '운영 중'(으)로 바꿀 수 없습니다."


# -- 422 -------------------------------------------------------------------------------------------

TODAY = date.today()


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("title", {"title": "가" * 121}),
        ("title", {"title": 12345}),
        ("hours", {"hours": 0}),
        ("hours", {"hours": "eight"}),
        ("hours", {"hours": 2.5}),
        ("hours", {"hours": True}),
        ("lesson_count", {"lesson_count": None}),
        ("theme_id", {"theme_id": "safety"}),
        ("end_date", {"end_date": (TODAY + timedelta(days=3)).isoformat()}),
        ("start_date", {"start_date": "2026/03/02"}),
        ("start_date", {"start_date": "next monday"}),
        ("end_date", {"end_date": 20260302}),
        ("start_date", {"start_date": (TODAY - timedelta(days=1)).isoformat()}),
        ("level", {"level": "nation"}),
        ("delivery", {"delivery": ["live"]}),
        ("class_id", {"class_id": "abc"}),
    ],
)
def test_bad_course_values_are_422_with_the_field_named(web_world, api, field, overrides):
    err = error(api(web_world["teacher"]).post("/courses", course_body(web_world, **overrides)), 422)
    assert err["code"] == "ValidationError"
    assert err["message"] == "입력값을 확인해 주세요."
    assert field in err["fields"], err["fields"]


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ("all", "targets"),
        ([1, 2], "targets"),
        ([{"school_id": "here"}], "school_id"),
        ([{"grade": 5}], "school_id"),
    ],
)
def test_malformed_targets_are_422(web_world, api, targets, field):
    err = error(
        api(web_world["office_admin"]).post("/courses", course_body(web_world, "office", targets=targets)),
        422,
    )
    assert field in err["fields"], err["fields"]


def test_targets_outside_scope_are_422(web_world, api):
    office = api(web_world["office_admin"])
    foreign = course_body(web_world, "office", targets=[{"school_id": web_world.foreign_school.id}])
    err = error(office.post("/courses", foreign), 422)
    assert err["fields"]["targets"] == "관할 밖의 학교가 대상에 있습니다."
    foreign_class = course_body(
        web_world,
        "school",
        targets=[{"school_id": web_world.school.id, "class_id": web_world.foreign_cls.id}],
    )
    err = error(api(web_world["school_admin"]).post("/courses", foreign_class), 422)
    assert err["fields"]["targets"] == "관할 밖의 학급이 대상에 있습니다."
    err = error(
        api(web_world["teacher"]).post("/courses", course_body(web_world, class_id=web_world.cls2.id)), 422
    )
    assert "class_id" in err["fields"]


def test_every_bad_field_is_reported_at_once(web_world, api):
    teacher = api(web_world["teacher"])
    # Types first (the shared parser), every one named ...
    err = error(teacher.post("/courses", course_body(web_world, start_date="bad", hours="x", goals=7)), 422)
    assert {"start_date", "hours", "goals"} <= set(err["fields"])
    assert err["fields"]["start_date"] == "날짜 형식(YYYY-MM-DD)이 올바르지 않습니다."
    # ... then the rules (the service), every one named.
    err = error(
        teacher.post("/courses", course_body(web_world, title="x", hours=0, delivery="carrier-pigeon")), 422
    )
    assert {"title", "hours", "delivery"} <= set(err["fields"])
    assert err["fields"]["title"] == "제목은 2~120자로 입력하세요."


def test_bad_action_instructor_and_enrolment_values_are_422(db_session, web_world, api):
    submitted = make_course(db_session, web_world)
    approved = make_course(db_session, web_world, status="approved")
    school, teacher = api(web_world["school_admin"]), api(web_world["teacher"])
    cases = [
        (school, "POST", f"/courses/{submitted}/actions/reject", {}, "reason"),
        (school, "POST", f"/courses/{submitted}/actions/reject", {"reason": "   "}, "reason"),
        (school, "POST", f"/courses/{submitted}/actions/reject", {"reason": "가" * 501}, "reason"),
        (school, "POST", f"/courses/{submitted}/actions/approve", {"reason": ["ok"]}, "reason"),
        (school, "PUT", f"/courses/{approved}/instructor", {"instructor_mode": "office"}, "instructor_id"),
        (
            school,
            "PUT",
            f"/courses/{approved}/instructor",
            {"instructor_mode": "robot", "instructor_id": 1},
            "instructor_mode",
        ),
        (
            school,
            "PUT",
            f"/courses/{approved}/instructor",
            {"instructor_mode": "office", "instructor_id": web_world["external"].id},
            "instructor_id",
        ),
        (
            school,
            "PUT",
            f"/courses/{approved}/instructor",
            {"instructor_mode": "office", "instructor_id": "x"},
            "instructor_id",
        ),
        (teacher, "POST", f"/courses/{approved}/enrolments", {}, "school_id"),
        (
            teacher,
            "POST",
            f"/courses/{approved}/enrolments",
            {"school_id": web_world.school.id, "grade": 13},
            "grade",
        ),
        (teacher, "POST", f"/courses/{approved}/enrolments", {"school_id": "A"}, "school_id"),
        (teacher, "POST", f"/courses/{approved}/enrolments", {"student_ids": "1,2"}, "student_ids"),
        (teacher, "POST", f"/courses/{approved}/enrolments", {"student_ids": []}, "student_ids"),
        (teacher, "POST", f"/courses/{approved}/enrolments", {"student_ids": ["1"]}, "student_ids"),
        (
            teacher,
            "POST",
            f"/courses/{approved}/enrolments",
            {"student_ids": [web_world["student"].id], "school_id": web_world.school.id},
            "school_id",
        ),
    ]
    for client, method, path, body, field in cases:
        err = error(client.call(method, path, body), 422)
        assert field in err["fields"], (method, path, body, err)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("status=lost", "status"),
    ],
)
def test_bad_list_parameters_are_422(web_world, api, query, field):
    err = error(api(web_world["teacher"]).get(f"/courses?{query}"), 422)
    assert field in err["fields"]


def test_bad_enrolment_paging_and_instructor_filter_are_422(db_session, web_world, api):
    course_id = make_course(db_session, web_world, status="approved")
    teacher = api(web_world["teacher"])
    assert "limit" in error(teacher.get(f"/courses/{course_id}/enrolments?limit=501"), 422)["fields"]
    assert "theme_id" in error(teacher.get("/instructors?theme_id=safety"), 422)["fields"]


def test_a_failed_write_leaves_nothing_behind(db_session, web_world, api):
    before = len(db_session.scalars(select(Course.id)).all())
    error(api(web_world["teacher"]).post("/courses", course_body(web_world, hours=0)), 422)
    assert len(db_session.scalars(select(Course.id)).all()) == before
