"""The OpenAPI document: valid 3.1, one entry per api route and no other, and true to what the API returns."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from typing import Any

import pytest
from flask import Blueprint, Flask
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from app.openapi import build_document, describe
from courses.workflow import ACTIONS, CourseInput
from tests.web.test_api import API, Api, course_body, make_course

RULE_PARAM = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


@pytest.fixture()
def document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200 and resp.is_json
    return resp.get_json()  # type: ignore[no-any-return]


def api_rules(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI-style path, method) for every URL rule of the api blueprint."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = RULE_PARAM.sub(r"{\1}", rule.rule)
            out |= {(path, m.lower()) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    return out


def test_document_is_public_and_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1.")
    validate_spec(document)  # raises on any violation of the 3.1 schema, unresolved $ref included


def test_every_api_route_is_documented_and_nothing_else(app, document):
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routes = api_rules(app)
    assert documented == routes
    c = "/courses/{course_id}"
    assert routes == {
        (API + path, method)
        for method, path in [
            ("get", "/me"),
            ("get", "/themes"),
            ("get", "/courses"),
            ("post", "/courses"),
            ("get", c),
            ("post", c + "/actions/{action}"),
            ("put", c + "/instructor"),
            ("get", c + "/enrolments"),
            ("post", c + "/enrolments"),
            ("delete", c + "/enrolments/{student_id}"),
            ("get", "/instructors"),
            ("get", "/notifications"),
            ("post", "/notifications/read"),
            ("get", "/openapi.json"),
            ("post", "/lessons/{lesson_id}/video/upload"),
            ("put", c + "/watch-settings"),
            ("get", "/videos/{video_id}"),
            ("delete", "/videos/{video_id}"),
            ("get", "/videos/{video_id}/upload"),
            ("post", "/videos/{video_id}/upload/parts"),
            ("post", "/videos/{video_id}/upload/complete"),
            ("get", "/lessons/{lesson_id}/progress"),
            ("post", "/lessons/{lesson_id}/progress"),
        ]
    }


def test_path_parameters_are_exactly_the_rules_arguments(app, document):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = RULE_PARAM.sub(r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            op = document["paths"][path][method.lower()]
            in_path = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert in_path == set(rule.arguments), (method, path)


def test_action_names_are_the_html_pages_actions(document):
    op = document["paths"][f"{API}/courses/{{course_id}}/actions/{{action}}"]["post"]
    action = next(p for p in op["parameters"] if p["name"] == "action")
    assert set(action["schema"]["enum"]) == set(ACTIONS)


def test_error_responses_follow_each_routes_shape(document):
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            where = (method, path)
            if path.endswith("/openapi.json"):
                assert op["security"] == [] and "401" not in codes, where
                continue
            assert "401" in codes, where
            if method != "get":
                assert "400" in codes, where
                assert op["security"][0] == {"session": [], "csrf": []}, where
            # A machine token works everywhere but the public document, each operation naming its scope.
            from app.api_tokens import ENDPOINT_SCOPES

            assert op["security"][-1] == {"bearerAuth": [ENDPOINT_SCOPES["api." + op["operationId"]]]}, where
            if "{" in path:
                assert "404" in codes, where
            if "requestBody" in op or any(p["in"] == "query" for p in op.get("parameters", [])):
                assert "422" in codes, where
            if "/actions/" in path or path.endswith("/instructor"):
                assert {"403", "409"} <= codes, where
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert resp["$ref"].startswith("#/components/responses/"), where


def test_security_schemes_name_the_session_cookie_and_the_csrf_header(app, document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {
        **schemes["session"],
        "type": "apiKey",
        "in": "cookie",
        "name": app.config["SESSION_COOKIE_NAME"],
    }
    assert schemes["csrf"] == {**schemes["csrf"], "type": "apiKey", "in": "header", "name": "X-CSRFToken"}
    assert document["security"] == [{"session": []}, {"bearerAuth": []}]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"


def test_course_input_schema_has_exactly_the_services_fields(document):
    schema = document["components"]["schemas"]["CourseInput"]
    assert set(schema["properties"]) == {f.name for f in fields(CourseInput)}
    required = {f.name for f in fields(CourseInput) if f.default is MISSING and f.default_factory is MISSING}
    assert set(schema["required"]) == required


def test_a_route_without_a_description_fails_the_build():
    bare = Flask(__name__)
    bp = Blueprint("api", __name__, url_prefix="/api/v1")

    @bp.get("/documented")
    @describe(summary="ok", tag="meta", response=None)
    def documented() -> str:
        return ""

    @bp.get("/forgotten")
    def forgotten() -> str:
        return ""

    bare.register_blueprint(bp)
    with pytest.raises(LookupError, match="forgotten"):
        build_document(bare)


# -- the document describes what the API really returns --------------------------------------------


class Checked:
    """Validates every response against the schema the document gives for its route and status."""

    def __init__(self, api: Api, document: dict[str, Any]) -> None:
        self.api, self.document = api, document
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, template: str, body: Any = None, **params: Any) -> Any:
        resp = self.api.call(method, template.format(**params), body)
        op = self.document["paths"][API + template][method.lower()]
        documented = op["responses"].get(str(resp.status_code))
        assert documented is not None, (method, template, resp.status_code, resp.get_data(as_text=True)[:300])
        if "$ref" in documented:
            name = documented["$ref"].rsplit("/", 1)[1]
            documented = self.document["components"]["responses"][name]
        content = documented.get("content")
        if content is None:
            assert resp.data == b"", (method, template)
        else:
            schema = {**content["application/json"]["schema"], "components": self.document["components"]}
            OAS31Validator(schema).validate(resp.get_json())
        self.seen.add((method.lower(), template, resp.status_code))
        return resp.get_json()


def test_responses_match_the_documented_schemas(db_session, web_world, login, client, document):
    def as_user(key: str) -> Checked:
        c = login(web_world[key])
        return Checked(Api(c, c.csrf()), document)

    teacher, school = as_user("teacher"), as_user("school_admin")
    teacher("GET", "/me")
    teacher("GET", "/themes")
    course_id = teacher("POST", "/courses", course_body(web_world))["id"]
    teacher("GET", "/courses")
    teacher("GET", "/courses/{course_id}", course_id=course_id)
    school(
        "POST",
        "/courses/{course_id}/actions/{action}",
        {"reason": "ok"},
        course_id=course_id,
        action="approve",
    )
    school(
        "PUT",
        "/courses/{course_id}/instructor",
        {"instructor_mode": "office", "instructor_id": web_world["instructor"].id},
        course_id=course_id,
    )
    teacher(
        "POST", "/courses/{course_id}/enrolments", {"school_id": web_world.school.id}, course_id=course_id
    )
    teacher("GET", "/courses/{course_id}/enrolments", course_id=course_id)
    teacher(
        "DELETE",
        "/courses/{course_id}/enrolments/{student_id}",
        course_id=course_id,
        student_id=web_world["student"].id,
    )
    teacher("GET", "/instructors")
    school("GET", "/notifications")
    school("POST", "/notifications/read")
    # Errors too: 404, 409, 422, 403, 400.
    other = make_course(db_session, web_world, requester="teacher_b", class_id=web_world.cls_b.id)
    teacher("GET", "/courses/{course_id}", course_id=other)
    teacher("POST", "/courses/{course_id}/actions/{action}", course_id=course_id, action="complete")
    teacher("POST", "/courses", course_body(web_world, hours=0))
    teacher(
        "POST", "/courses/{course_id}/actions/{action}", {"reason": "x"}, course_id=course_id, action="cancel"
    )
    teacher("POST", "/courses", [])
    statuses = {s for _m, _t, s in teacher.seen}
    assert {200, 201, 204, 400, 403, 404, 409, 422} <= statuses

    anon = Checked(Api(client, None), document)
    anon("GET", "/me")
    anon("GET", "/openapi.json")
    assert {s for _m, _t, s in anon.seen} == {200, 401}
