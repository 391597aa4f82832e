"""The OpenAPI 3.1 document for /api/v1, built from the app's URL map and one description per view.

Each API view carries an `Operation` (set by `@describe`); `build_document` walks the `api` blueprint's
URL rules, so a route without a description fails the build and a description without a route cannot
exist. Path parameters come from the rule's converters; error responses follow from the route's shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask

from courses.models import (
    CourseLevel,
    CourseStatus,
    Delivery,
    EventKind,
    InstructorMode,
    LessonKind,
    RecordingPolicy,
    Role,
    VideoState,
)

OPENAPI_VERSION = "3.1.0"
BLUEPRINT = "api"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class QueryParam:
    """A query-string parameter of one operation."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """What one API view does, takes and returns; the document is built from these."""

    summary: str
    tag: str
    response: str | None  # component schema of the success body; None for an empty body
    status: int = 200
    body: str | None = None  # component schema of the JSON request body
    body_required: bool = True
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()  # beyond those that follow from the route's shape (see _errors)
    public: bool = False
    description: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # response header → description


def describe(**kwargs: Any) -> Callable[[F], F]:
    """Attach an `Operation` to a view function."""
    operation = Operation(**kwargs)

    def decorate(view: F) -> F:
        view.openapi = operation  # type: ignore[attr-defined]
        return view

    return decorate


def _enum(values: type) -> list[str]:
    return [v.value for v in values]  # type: ignore[attr-defined]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An object schema; every property is required unless `required` names the subset."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        **extra,
    }


INT = {"type": "integer"}
STR = {"type": "string"}
NULL_INT = {"type": ["integer", "null"]}
NULL_STR = {"type": ["string", "null"]}
NUM = {"type": "number"}
NULL_NUM = {"type": ["number", "null"]}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
NULL_DATETIME = {"type": ["string", "null"], "format": "date-time"}
REF_NAME = _obj({"id": INT, "name": STR})

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {
                        **STR,
                        "description": "BadRequest, CSRFError, Unauthorized, Forbidden, NotFound, "
                        "InvalidTransition, ValidationError, …",
                    },
                    "message": {**STR, "description": "In the caller's language."},
                    "fields": {
                        "type": "object",
                        "additionalProperties": STR,
                        "description": "ValidationError only: field name → message.",
                    },
                },
                ["code", "message"],
            )
        }
    ),
    "User": _obj(
        {
            "id": INT,
            "username": STR,
            "name": STR,
            "role": {"enum": _enum(Role)},
            "org_id": INT,
            "org_name": STR,
            "office_id": INT,
        }
    ),
    "Me": _obj(
        {
            "user": _ref("User"),
            "locale": {"enum": ["ko", "en"]},
            "unread_notifications": INT,
            "csrf_token": {**STR, "description": "Send as the X-CSRFToken header on writes."},
        }
    ),
    "ContentElement": _obj({"id": INT, "name": STR}),
    "Theme": _obj(
        {
            "id": INT,
            "code": STR,
            "name": STR,
            "name_en": STR,
            "description": STR,
            "elements": {"type": "array", "items": _ref("ContentElement")},
        }
    ),
    "DeliveryFormat": _obj({"value": {"enum": _enum(Delivery)}, "label": STR, "description": STR}),
    "Catalogue": _obj(
        {
            "themes": {"type": "array", "items": _ref("Theme")},
            "deliveries": {"type": "array", "items": _ref("DeliveryFormat")},
        }
    ),
    "CourseSummary": _obj(
        {
            "id": INT,
            "title": STR,
            "level": {"enum": _enum(CourseLevel)},
            "status": {"enum": _enum(CourseStatus)},
            "status_label": STR,
            "theme": REF_NAME,
            "delivery": {"enum": _enum(Delivery)},
            "office_id": INT,
            "school_id": NULL_INT,
            "class_id": NULL_INT,
            "requester_id": INT,
            "instructor_id": NULL_INT,
            "instructor_mode": {"enum": _enum(InstructorMode)},
            "lesson_count": INT,
            "hours": INT,
            "start_date": DATE,
            "end_date": DATE,
            "updated_at": DATETIME,
        }
    ),
    "CourseList": _obj(
        {
            "items": {"type": "array", "items": _ref("CourseSummary")},
            "limit": INT,
            "offset": INT,
            "has_more": {"type": "boolean"},
        }
    ),
    "Target": _obj(
        {
            "school_id": INT,
            "school_name": STR,
            "grade": NULL_INT,
            "class_id": NULL_INT,
            "class_label": NULL_STR,
        }
    ),
    "Lesson": _obj(
        {
            "id": INT,
            "number": INT,
            "title": STR,
            "kind": {"enum": _enum(LessonKind)},
            "starts_at": NULL_DATETIME,
            "ends_at": NULL_DATETIME,
            "description": STR,
            "video_state": {
                "enum": [*_enum(VideoState), None],
                "description": "Recorded lessons: uploading, processing, ready or failed; null without a video.",
            },
            "duration_s": {**NULL_NUM, "description": "The video's length in seconds, once processed."},
        }
    ),
    "Video": _obj(
        {
            "id": INT,
            "lesson_id": INT,
            "state": {"enum": _enum(VideoState)},
            "progress_pct": {**NUM, "description": "Encoding progress while processing (0-100)."},
            "duration_s": NULL_NUM,
            "width": NULL_INT,
            "height": NULL_INT,
            "size": INT,
            "name": {**STR, "description": "The uploaded file's name, for display only."},
            "renditions": {"type": "array", "items": {"type": "object"}},
            "error": {**NULL_STR, "description": "Why processing failed, in the caller's language."},
            "error_detail": NULL_STR,
            "created_at": DATETIME,
            "ready_at": NULL_DATETIME,
        }
    ),
    "WatchSettingsInput": _obj(
        {"watch_threshold_pct": {**INT, "minimum": 50, "maximum": 100}, "seek_lock": {"type": "boolean"}},
        ["watch_threshold_pct"],
    ),
    "UploadInput": _obj({"filename": STR, "size": {**INT, "minimum": 1}}, ["filename", "size"]),
    "UploadPart": _obj({"part_number": INT, "etag": STR}, ["part_number", "etag"]),
    "UploadPlan": _obj(
        {
            "video": _ref("Video"),
            "part_size": INT,
            "part_count": INT,
            "resumed": {"type": "boolean"},
            "uploaded_parts": {"type": "array", "items": _ref("UploadPart")},
        }
    ),
    "UploadParts": _obj({"uploaded_parts": {"type": "array", "items": _ref("UploadPart")}}),
    "PartUrlsInput": _obj({"parts": {"type": "array", "items": INT, "maxItems": 100}}, ["parts"]),
    "PartUrls": _obj({"urls": {"type": "object", "additionalProperties": STR}}),
    "CompleteInput": _obj({"parts": {"type": "array", "items": _ref("UploadPart")}}, ["parts"]),
    "ProgressBeat": _obj(
        {
            "session_id": {
                **STR,
                "pattern": "^[A-Za-z0-9_-]{8,64}$",
                "description": "One per player instance.",
            },
            "seq": {**INT, "minimum": 0, "description": "Increases with every beat of the session."},
            "segments": {
                "type": "array",
                "maxItems": 100,
                "items": {"type": "array", "items": {**NUM, "minimum": 0}, "minItems": 2, "maxItems": 2},
                "description": "[start, end] media seconds played since the previous beat.",
            },
            "position": {**NUM, "minimum": 0},
            "rate": {**NUM, "minimum": 0.0625, "maximum": 16},
            "event": {
                "enum": [
                    "heartbeat",
                    "initialized",
                    "play",
                    "pause",
                    "seek",
                    "ended",
                    "pagehide",
                    "ratechange",
                ]
            },
            "from": {**NUM, "description": "seek only: the position the seek left."},
        },
        ["session_id", "seq", "segments", "position", "rate"],
    ),
    "ProgressState": _obj(
        {
            "watched_s": NUM,
            "duration_s": NUM,
            "percent": NUM,
            "completed": {"type": "boolean"},
            "credited_s": {**NUM, "description": "What this beat added."},
        }
    ),
    "OwnProgress": _obj(
        {
            "watched_s": NUM,
            "duration_s": NUM,
            "percent": NUM,
            "completed": {"type": "boolean"},
            "played_segments": {
                **STR,
                "description": "xAPI Video Profile form: 0.000[.]12.000[,]14.000[.]21.000",
            },
            "last_position": NUM,
            "segments": {"type": "array", "items": {"type": "array", "items": NUM}},
            "seek_lock": {"type": "boolean"},
        }
    ),
    "Material": _obj({"id": INT, "title": STR, "url": NULL_STR, "created_at": DATETIME}),
    "HistoryEvent": _obj(
        {
            "at": DATETIME,
            "kind": {"enum": _enum(EventKind)},
            "from": NULL_STR,
            "to": NULL_STR,
            "detail": STR,
            "summary": {**STR, "description": "what happened, in the caller's language, people named"},
            "actor": {"oneOf": [REF_NAME, {"type": "null"}]},
        }
    ),
    "Course": {
        "allOf": [
            _ref("CourseSummary"),
            _obj(
                {
                    "goals": STR,
                    "schedule_note": STR,
                    "content_element_id": NULL_INT,
                    "recording_policy": {"enum": _enum(RecordingPolicy)},
                    "completion_threshold_pct": INT,
                    "watch_threshold_pct": {
                        **INT,
                        "description": "A recorded lesson is complete at this % watched.",
                    },
                    "seek_lock": {
                        "type": "boolean",
                        "description": "No seeking past the furthest point watched until then.",
                    },
                    "decision_reason": NULL_STR,
                    "requester": REF_NAME,
                    "instructor": {"oneOf": [REF_NAME, {"type": "null"}]},
                    "enrolled": INT,
                    "targets": {"type": "array", "items": _ref("Target")},
                    "lessons": {"type": "array", "items": _ref("Lesson")},
                    "materials": {"type": "array", "items": _ref("Material")},
                    "history": {
                        "type": "array",
                        "items": _ref("HistoryEvent"),
                        "description": "staff only (it names students); empty for students and parents",
                    },
                    "allowed_actions": {
                        "type": "array",
                        "items": STR,
                        "uniqueItems": True,
                        "description": "What the caller may do now: approve, reject, withdraw, resubmit, "
                        "cancel, start, complete, confirm, enrol, edit_lessons, "
                        "assign_instructor.",
                    },
                }
            ),
        ]
    },
    "TargetInput": _obj(
        {"school_id": INT, "grade": {**NULL_INT, "minimum": 1, "maximum": 12}, "class_id": NULL_INT},
        ["school_id"],
    ),
    "LessonTimeInput": _obj(
        {
            "number": {**INT, "minimum": 1, "maximum": 60},
            "date": {**NULL_STR, "format": "date", "description": "within the course's start and end dates"},
            "start": {**NULL_STR, "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"},
            "end": {
                **NULL_STR,
                "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
                "description": "later than start",
            },
        },
        ["number"],
    ),
    "CourseInput": _obj(
        {
            "level": {
                "enum": _enum(CourseLevel),
                "description": "office (office admins), school (school admins), "
                "class (teachers, school admins)",
            },
            "theme_id": INT,
            "content_element_id": NULL_INT,
            "title": {**STR, "minLength": 2, "maxLength": 120},
            "goals": {**STR, "minLength": 1, "maxLength": 2000},
            "delivery": {"enum": _enum(Delivery)},
            "lesson_count": {**INT, "minimum": 1, "maximum": 60},
            "hours": {
                **INT,
                "minimum": 1,
                "maximum": 200,
                "description": "차시; not fewer than lesson_count",
            },
            "start_date": {**DATE, "description": "today or later, within two years"},
            "end_date": {**DATE, "description": "on or after start_date, within a year of it"},
            "schedule_note": {**STR, "maxLength": 300},
            "instructor_mode": {"enum": _enum(InstructorMode)},
            "instructor_id": NULL_INT,
            "recording_policy": {"enum": _enum(RecordingPolicy), "default": RecordingPolicy.none.value},
            "class_id": {**NULL_INT, "description": "the class, for class-level requests"},
            "targets": {
                "type": "array",
                "items": _ref("TargetInput"),
                "description": "office level: schools of the office (required); school level: "
                "the school, its grades or classes (default: the whole school)",
            },
            "completion_threshold_pct": {
                **INT,
                "minimum": 50,
                "maximum": 100,
                "default": 85,
                "description": "attendance a live lesson needs (percent of its scheduled time)",
            },
            "watch_threshold_pct": {
                **INT,
                "minimum": 50,
                "maximum": 100,
                "default": 90,
                "description": "share of a recorded lesson's video to watch (percent)",
            },
            "schedule": {
                "type": "array",
                "maxItems": 60,
                "items": _ref("LessonTimeInput"),
                "description": "lessons' dates and times (Seoul), by lesson number; a lesson left out is "
                "scheduled after approval. Errors are keyed lesson_date_N, lesson_start_N, lesson_end_N.",
            },
        },
        [
            "level",
            "theme_id",
            "title",
            "goals",
            "delivery",
            "lesson_count",
            "hours",
            "start_date",
            "end_date",
            "instructor_mode",
        ],
    ),
    "ActionInput": _obj(
        {"reason": {**NULL_STR, "maxLength": 500, "description": "required to reject or cancel"}}, []
    ),
    "InstructorInput": _obj({"instructor_mode": {"enum": _enum(InstructorMode)}, "instructor_id": INT}),
    "EnrolmentInput": {
        "oneOf": [
            _obj(
                {"school_id": INT, "grade": {**NULL_INT, "minimum": 1, "maximum": 12}, "class_id": NULL_INT},
                ["school_id"],
                title="Group",
                additionalProperties=False,
            ),
            _obj(
                {"student_ids": {"type": "array", "items": INT, "minItems": 1, "maxItems": 1000}},
                title="Individual",
                additionalProperties=False,
            ),
        ]
    },
    "EnrolmentAdded": _obj({"added": INT}),
    "Enrolled": _obj(
        {
            "student": _obj({"id": INT, "username": STR, "name": STR}),
            "school_id": INT,
            "class": _obj({"id": INT, "grade": INT, "label": STR}),
            "number": NULL_INT,
        }
    ),
    "EnrolmentList": _obj(
        {
            "items": {"type": "array", "items": _ref("Enrolled")},
            "total": INT,
            "limit": INT,
            "offset": INT,
            "has_more": {"type": "boolean"},
        }
    ),
    "Instructor": _obj(
        {
            "id": INT,
            "name": STR,
            "external": {"type": "boolean"},
            "affiliation": NULL_STR,
            "bio": STR,
            "availability": STR,
            "themes": {"type": "array", "items": REF_NAME},
        }
    ),
    "InstructorList": _obj({"items": {"type": "array", "items": _ref("Instructor")}}),
    "Notification": _obj(
        {
            "id": INT,
            "title": STR,
            "body": STR,
            "link": NULL_STR,
            "created_at": DATETIME,
            "read_at": NULL_DATETIME,
        }
    ),
    "NotificationList": _obj({"items": {"type": "array", "items": _ref("Notification")}, "unread": INT}),
    "NotificationsRead": _obj({"marked": INT}),
    "OpenAPI": {"type": "object", "description": "This document."},
}

ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed JSON, a body that is not a JSON object, or a missing/invalid CSRF token."),
    401: ("Unauthorized", "Not logged in (or the session idled out)."),
    403: ("Forbidden", "Visible to the caller, but not theirs to do."),
    404: ("NotFound", "Missing or outside the caller's scope; the two are indistinguishable."),
    409: ("Conflict", "The course's status does not allow this now."),
    422: ("UnprocessableEntity", "Invalid values; `error.fields` names each field."),
    429: (
        "TooManyRequests",
        "Rate limited: wait and send again (a player's beats carry what was not acknowledged).",
    ),
}

_PARAM = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def openapi_path(rule: str) -> str:
    """A Werkzeug rule as an OpenAPI path: `<int:course_id>` → `{course_id}`."""
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule)


def _path_params(rule: str) -> list[dict[str, Any]]:
    params = []
    for m in _PARAM.finditer(rule):
        conv, args = m["conv"] or "default", m["args"] or ""
        if conv == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
        elif conv == "any":
            schema = {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
        else:
            schema = {"type": "string"}
        params.append({"name": m["name"], "in": "path", "required": True, "schema": schema})
    return params


def _errors(op: Operation, method: str, has_path_params: bool) -> list[int]:
    """Error statuses that follow from the route's shape, plus those the description names."""
    codes = set(op.errors)
    if not op.public:
        codes.add(401)
    if method in WRITE_METHODS or op.body:
        codes.add(400)
    if op.body or op.query:
        codes.add(422)
    if has_path_params:
        codes.add(404)
    return sorted(codes)


def _operation(op: Operation, method: str, endpoint: str, rule: str) -> dict[str, Any]:
    path_params = _path_params(rule)
    success: dict[str, Any] = {"description": op.summary}
    if op.response:
        success["content"] = {"application/json": {"schema": _ref(op.response)}}
    if op.headers:
        success["headers"] = {h: {"description": d, "schema": STR} for h, d in op.headers.items()}
    out: dict[str, Any] = {
        "operationId": endpoint.removeprefix(f"{BLUEPRINT}."),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {str(op.status): success}
        | {
            str(code): {"$ref": f"#/components/responses/{ERRORS[code][0]}"}
            for code in _errors(op, method, bool(path_params))
        },
    }
    if op.description:
        out["description"] = op.description
    params = path_params + [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": q.schema,
            **({"description": q.description} if q.description else {}),
        }
        for q in op.query
    ]
    if params:
        out["parameters"] = params
    if op.body:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    if op.public:
        out["security"] = []
    else:
        from app.api_tokens import ENDPOINT_SCOPES

        scope = ENDPOINT_SCOPES.get(endpoint)
        session: list[dict[str, list[str]]] = (
            [{"session": [], "csrf": []}] if method in WRITE_METHODS else [{"session": []}]
        )
        out["security"] = session + ([{"bearerAuth": [scope]}] if scope else [])
    return out


def api_rules(app: Flask) -> list[tuple[str, str, str]]:
    """(rule, method, endpoint) for every route of the api blueprint, HEAD and OPTIONS aside."""
    out: list[tuple[str, str, str]] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{BLUEPRINT}."):
            out.extend(
                (rule.rule, m, rule.endpoint) for m in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            )
    return out


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of the api blueprint."""
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, endpoint in api_rules(app):
        op = getattr(app.view_functions[endpoint], "openapi", None)
        if not isinstance(op, Operation):
            raise LookupError(f"API route {method} {rule} ({endpoint}) has no @describe")
        paths.setdefault(openapi_path(rule), {})[method.lower()] = _operation(op, method, endpoint, rule)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "이음 (Ieum) API",
            "version": "1.0.0",
            "description": "The operations of the 이음 course pages, as JSON. Log in through the web page; "
            "the session cookie authenticates, and every write also carries the CSRF token "
            "(GET /api/v1/me gives it) in the X-CSRFToken header. Messages follow the "
            "session's language (Korean by default).",
        },
        "servers": [{"url": "/"}],
        "security": [{"session": []}, {"bearerAuth": []}],
        "tags": [
            {"name": t}
            for t in (
                "account",
                "catalogue",
                "courses",
                "enrolment",
                "instructors",
                "notifications",
                "videos",
                "progress",
                "meta",
            )
        ],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                name: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
                for name, text in ERRORS.values()
            },
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                    "description": "The browser session cookie set by logging in at /login.",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRFToken",
                    "description": "The CSRF token (GET /api/v1/me → csrf_token); required on every write.",
                },
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "ieum_…",
                    "description": "A machine access token an office admin created at /admin/api-tokens. It acts as "
                    "that admin, limited to its scopes (courses:read, courses:write, enrolment:read, "
                    "enrolment:write, notifications:read, notifications:write); no CSRF token; rate limited "
                    "per token; every use is logged.",
                },
            },
        },
    }


__all__ = ["Operation", "QueryParam", "api_rules", "build_document", "describe", "openapi_path"]
