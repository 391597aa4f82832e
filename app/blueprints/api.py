"""JSON API under /api/v1: the operations of the course pages, on the same services, as JSON.

Every view is thin: parse → check access → call the service → serialise. Authentication is the browser
session; writes carry the CSRF token in X-CSRFToken (Flask-WTF checks it before any view runs).
Errors come out of app.errors as {"error": {"code", "message", "fields"?}}. Each view's `@describe`
is the one description app.openapi builds the document from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app import api_tokens
from app.audit import audit
from app.auth import actor
from app.extensions import dbs, limiter
from app.forms import parse_course_input, parse_id, parse_int
from app.i18n import translate
from app.input import ID_MAX
from app.openapi import QueryParam, build_document, describe
from courses import catalog, enrolment, instructors, notifications, videos, workflow
from courses.errors import N_, DomainError, Errors, ValidationError
from courses.home import visible_courses
from courses.models import (
    AccessAction,
    Course,
    CourseStatus,
    CourseTarget,
    InstructorProfile,
    Lesson,
    Material,
    Notification,
    Role,
    SchoolClass,
    Theme,
    User,
    Video,
)
from courses.policy import get_course, require

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Machine tokens are rate limited per token. Declared once, here: the limiter and this blueprint live as long
# as the process, and every app built in it (tests build one per database) shares them.
limiter.limit(
    lambda: current_app.config["API_TOKEN_RATE_LIMIT"],
    key_func=api_tokens.rate_key,
    exempt_when=lambda: api_tokens.current_token() is None,
)(bp)

PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
COURSES_MAX, COURSES_DEFAULT = 100, 50
ENROLLED_MAX, ENROLLED_DEFAULT = 500, 100
STUDENT_IDS_MAX = 1000
# Who may request a course at all (the level then decides which of them may request what).
COURSE_STRINGS = (
    "level",
    "title",
    "goals",
    "delivery",
    "schedule_note",
    "instructor_mode",
    "recording_policy",
    "start_date",
    "end_date",
)
COURSE_INTS = (
    "theme_id",
    "content_element_id",
    "lesson_count",
    "hours",
    "instructor_id",
    "class_id",
    "completion_threshold_pct",
    "watch_threshold_pct",
)
ACTION_RULE = "/courses/<int:course_id>/actions/<any({}):action>".format(", ".join(workflow.ACTIONS))
OFFSET = QueryParam("offset", {"type": "integer", "minimum": 0, "default": 0}, "items to skip")


class BadRequest(DomainError):
    """The body is not JSON, or not the JSON object the route expects."""

    status = 400


# -- request plumbing ------------------------------------------------------------------------------


@bp.before_request
def _require_login() -> None:
    """Anonymous callers get 401 (not the login page's redirect) on everything but the document."""
    if request.endpoint not in PUBLIC_ENDPOINTS and not current_user.is_authenticated:
        abort(401)


@bp.after_request
def _headers(response: Response) -> Response:
    """Say which language the messages are in, and keep personal data out of shared caches."""
    response.headers["Content-Language"] = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; BadRequest for anything else (an empty body is {} when optional)."""
    # Checked before reading: the CSRF check may already have consumed a form-encoded body.
    if (request.content_length or 0) > 0 and not request.is_json:
        raise BadRequest(N_("Content-Type은 application/json이어야 합니다."))
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest(N_("요청 본문에 JSON 객체가 필요합니다."))
    try:
        data = current_app.json.loads(
            raw
        )  # app.input's strict JSON: NaN, huge ints, deep nesting, NUL refused
    except ValueError as err:
        request.on_json_loading_failed(err)
    if not isinstance(data, dict):
        raise BadRequest(N_("요청 본문은 JSON 객체여야 합니다."))
    return data


def _json_types(
    e: Errors, data: Mapping[str, Any], strings: Iterable[str] = (), ints: Iterable[str] = ()
) -> None:
    """JSON-only type checks the shared form parser cannot make (forms carry only strings)."""
    for key in strings:
        if data.get(key) is not None and not isinstance(data[key], str):
            e.add(key, N_("문자열을 입력하세요."))
    for key in ints:
        if isinstance(data.get(key), float):
            e.add(key, N_("정수를 입력하세요."))


def _merge(e: Errors, err: ValidationError) -> None:
    for key, (message, params) in err.errors.items():
        e.add(key, message, **params)


def _paging(e: Errors, maximum: int, default: int) -> tuple[int, int]:
    """limit/offset from the query string, checked into `e`."""
    limit = parse_int(e, request.args, "limit", required=False)
    offset = parse_int(e, request.args, "offset", required=False)
    if limit is not None and not 1 <= limit <= maximum:
        e.add("limit", N_("%(min)d~%(max)d 사이여야 합니다."), min=1, max=maximum)
    if offset is not None and offset < 0:
        e.add("offset", N_("0 이상이어야 합니다."))
    return limit or default, offset or 0


# -- serialisers -----------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _ref(entity: Any) -> dict[str, Any] | None:
    return {"id": entity.id, "name": entity.name} if entity is not None else None


def user_json(user: User) -> dict[str, Any]:
    """A user as the caller sees themselves."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "role": user.role.value,
        "org_id": user.org_id,
        "org_name": user.org.name,
        "office_id": user.office_id,
    }


def theme_json(theme: Theme) -> dict[str, Any]:
    """A theme with its content elements."""
    return {
        "id": theme.id,
        "code": theme.code,
        "name": theme.name,
        "name_en": theme.name_en,
        "description": theme.description,
        "elements": [{"id": el.id, "name": el.name} for el in theme.elements],
    }


def course_summary_json(course: Course) -> dict[str, Any]:
    """A course as listed."""
    return {
        "id": course.id,
        "title": course.title,
        "level": course.level.value,
        "status": course.status.value,
        "status_label": translate(workflow.STATUS_LABELS[course.status]),
        "theme": _ref(course.theme),
        "delivery": course.delivery.value,
        "office_id": course.office_id,
        "school_id": course.school_id,
        "class_id": course.class_id,
        "requester_id": course.requester_id,
        "instructor_id": course.instructor_id,
        "instructor_mode": course.instructor_mode.value,
        "lesson_count": course.lesson_count,
        "hours": course.hours,
        "start_date": course.start_date.isoformat(),
        "end_date": course.end_date.isoformat(),
        "updated_at": _iso(course.updated_at),
    }


def target_json(target: CourseTarget) -> dict[str, Any]:
    """Who a course is for."""
    cls = target.school_class
    return {
        "school_id": target.school_id,
        "school_name": target.school.name,
        "grade": target.grade,
        "class_id": target.class_id,
        "class_label": cls.label if cls else None,
    }


def lesson_json(lesson: Lesson, video: Video | None = None) -> dict[str, Any]:
    """One lesson and its schedule; a recorded lesson with its video's state and duration."""
    return {
        "id": lesson.id,
        "number": lesson.number,
        "title": lesson.title,
        "kind": lesson.kind.value,
        "starts_at": _iso(lesson.starts_at),
        "ends_at": _iso(lesson.ends_at),
        "description": lesson.description,
        "video_state": video.state.value if video else None,
        "duration_s": video.duration_s if video else None,
    }


def material_json(material: Material) -> dict[str, Any]:
    """A course material (stored files are reached through their course page, not by key)."""
    return {
        "id": material.id,
        "title": material.title,
        "url": material.url,
        "created_at": _iso(material.created_at),
    }


def event_json(line: workflow.HistoryLine) -> dict[str, Any]:
    """One history row: who changed what, when, from → to, and the same said in words with names."""
    event = line.event
    return {
        "at": _iso(event.at),
        "kind": event.kind.value,
        "from": event.from_value,
        "to": event.to_value,
        "detail": line.detail,
        "summary": translate(*line.what),
        "actor": _ref(event.actor),
    }


def course_json(course: Course, user: User) -> dict[str, Any]:
    """A course with everything its page shows, and what the caller may do with it now."""
    by_lesson = videos.videos_by_lesson(dbs(), course)
    return course_summary_json(course) | {
        "goals": course.goals,
        "schedule_note": course.schedule_note,
        "content_element_id": course.content_element_id,
        "recording_policy": course.recording_policy.value,
        "completion_threshold_pct": course.completion_threshold_pct,
        "watch_threshold_pct": course.watch_threshold_pct,
        "seek_lock": course.seek_lock,
        "decision_reason": course.decision_reason,
        "requester": _ref(course.requester),
        "instructor": _ref(course.instructor),
        "enrolled": enrolment.enrolment_count(dbs(), course),
        "targets": [target_json(t) for t in course.targets],
        "lessons": [lesson_json(lesson, by_lesson.get(lesson.id)) for lesson in course.lessons],
        "materials": [material_json(m) for m in course.materials],
        # History names students (who was enrolled): staff only, as on the course page.
        "history": []
        if user.role in (Role.student, Role.parent)
        else [event_json(line) for line in workflow.history_lines(dbs(), course)],
        "allowed_actions": sorted(workflow.allowed_actions(dbs(), user, course)),
    }


def enrolled_json(student: User, cls: SchoolClass, number: int | None) -> dict[str, Any]:
    """An enrolled student with their class."""
    return {
        "student": {"id": student.id, "username": student.username, "name": student.name},
        "school_id": cls.school_id,
        "class": {"id": cls.id, "grade": cls.grade, "label": cls.label},
        "number": number,
    }


def instructor_json(profile: InstructorProfile) -> dict[str, Any]:
    """An instructor of the pool; `id` is the user id that assigning an instructor takes."""
    return {
        "id": profile.user_id,
        "name": profile.user.name,
        "external": profile.external,
        "affiliation": profile.affiliation,
        "bio": profile.bio,
        "availability": profile.availability,
        "themes": [_ref(t) for t in profile.themes],
    }


def notification_json(item: Notification) -> dict[str, Any]:
    """One notification."""
    return {
        "id": item.id,
        "title": translate(item.title),
        "body": item.body,
        "link": item.link,
        "created_at": _iso(item.created_at),
        "read_at": _iso(item.read_at),
    }


# -- account and catalogue -------------------------------------------------------------------------


@bp.get("/me")
@describe(
    summary="The logged-in user, the session's language and the CSRF token for writes",
    tag="account",
    response="Me",
)
def me() -> ResponseReturnValue:
    """The caller, their language, unread count and CSRF token."""
    user = actor()
    return jsonify(
        user=user_json(user),
        locale=str(get_locale()),
        csrf_token=generate_csrf(),
        unread_notifications=notifications.unread_count(dbs(), user),
    )


@bp.get("/themes")
@describe(
    summary="Cross-curricular themes with their content elements, and the delivery formats",
    tag="catalogue",
    response="Catalogue",
)
def themes() -> ResponseReturnValue:
    """Active themes (with content elements) and the delivery formats."""
    deliveries = [
        {"value": d.value, "label": translate(label), "description": translate(text)}
        for d, (label, text) in catalog.DELIVERY_GUIDE.items()
    ]
    return jsonify(themes=[theme_json(t) for t in catalog.list_themes(dbs())], deliveries=deliveries)


# -- courses ---------------------------------------------------------------------------------------


@bp.get("/courses")
@describe(
    summary="Courses visible to the caller, newest first",
    tag="courses",
    response="CourseList",
    query=(
        QueryParam("status", {"type": "string", "enum": [s.value for s in CourseStatus]}),
        QueryParam(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": COURSES_MAX, "default": COURSES_DEFAULT},
            "page size",
        ),
        OFFSET,
    ),
)
def list_courses() -> ResponseReturnValue:
    """Courses in the caller's scope, optionally of one status."""
    user = actor()
    e = Errors()
    status = None
    if request.args.get("status"):
        try:
            status = CourseStatus(request.args["status"])
        except ValueError:
            e.add("status", N_("허용되지 않는 값입니다."))
    limit, offset = _paging(e, COURSES_MAX, COURSES_DEFAULT)
    e.raise_if_any()
    items = visible_courses(dbs(), user, status=status, limit=limit + 1, offset=offset)
    return jsonify(
        items=[course_summary_json(c) for c in items[:limit]],
        limit=limit,
        offset=offset,
        has_more=len(items) > limit,
    )


@bp.post("/courses")
@describe(
    summary="Request a course (office, school or class level)",
    tag="courses",
    response="Course",
    status=201,
    body="CourseInput",
    errors=(403,),
    headers={"Location": "The new course's URL"},
)
def create_course() -> ResponseReturnValue:
    """Submit a course request; approvers are notified."""
    user = actor()
    require(bool(workflow.requestable_levels(user)))
    body = _body()
    e = Errors()
    _json_types(e, body, COURSE_STRINGS, COURSE_INTS)
    if body.get("targets") is not None and not isinstance(body["targets"], list):
        e.add("targets", N_("대상 형식이 올바르지 않습니다."))
    try:
        data = parse_course_input(body)
    except ValidationError as err:
        _merge(e, err)
    e.raise_if_any()
    course = workflow.submit_request(dbs(), user, data)
    location = url_for("api.course_detail", course_id=course.id)
    return jsonify(course_json(course, user)), 201, {"Location": location}


@bp.get("/courses/<int:course_id>")
@describe(
    summary="A course with its targets, lessons, materials, history and the caller's allowed actions",
    tag="courses",
    response="Course",
)
def course_detail(course_id: int) -> ResponseReturnValue:
    """One course as its page shows it (a student's visit counts as their last access)."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    enrolment.touch(dbs(), user, course)
    return jsonify(course_json(course, user))


@bp.post(ACTION_RULE)
@describe(
    summary="Move a course through its workflow: approve, reject, withdraw, cancel, start, complete, confirm",
    description="`reason` is required to reject or cancel, optional to approve, ignored otherwise.",
    tag="courses",
    response="Course",
    body="ActionInput",
    body_required=False,
    errors=(403, 409),
)
def course_action(course_id: int, action: str) -> ResponseReturnValue:
    """Apply one workflow action to a course."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    body = _body(optional=True)
    e = Errors()
    _json_types(e, body, strings=("reason",))
    e.raise_if_any()
    workflow.ACTIONS[action](dbs(), user, course, body.get("reason"))
    return jsonify(course_json(course, user))


@bp.put("/courses/<int:course_id>/instructor")
@describe(
    summary="Assign the course's instructor",
    tag="courses",
    response="Course",
    body="InstructorInput",
    errors=(403, 409),
)
def assign_instructor(course_id: int) -> ResponseReturnValue:
    """Give the course an instructor from the pool or the school."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    body = _body()
    e = Errors()
    _json_types(e, body, strings=("instructor_mode",), ints=("instructor_id",))
    instructor_id = parse_id(e, body, "instructor_id")
    e.raise_if_any()
    workflow.assign_instructor(dbs(), user, course, body.get("instructor_mode") or "", instructor_id)  # type: ignore[arg-type]
    return jsonify(course_json(course, user))


# -- enrolment -------------------------------------------------------------------------------------


@bp.get("/courses/<int:course_id>/enrolments")
@describe(
    summary="Enrolled students the caller may see, by school, grade, class and number",
    tag="enrolment",
    response="EnrolmentList",
    errors=(403,),
    query=(
        QueryParam(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": ENROLLED_MAX, "default": ENROLLED_DEFAULT},
            "page size",
        ),
        OFFSET,
    ),
)
def list_enrolments(course_id: int) -> ResponseReturnValue:
    """A page of the course's enrolled students."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    e = Errors()
    limit, offset = _paging(e, ENROLLED_MAX, ENROLLED_DEFAULT)
    e.raise_if_any()
    rows = enrolment.list_enrolled(dbs(), user, course, limit=limit + 1, offset=offset)
    audit(
        AccessAction.enrolment_viewed, "course", course.id, f"API offset={offset} ({min(len(rows), limit)})"
    )
    return jsonify(
        items=[enrolled_json(*row) for row in rows[:limit]],
        limit=limit,
        offset=offset,
        has_more=len(rows) > limit,
        total=enrolment.enrolment_count(dbs(), course),
    )


@bp.post("/courses/<int:course_id>/enrolments")
@describe(
    summary="Enrol a school, one grade or one class in one action, or individual students",
    description="Students outside the course's targets or the caller's scope are refused with 404.",
    tag="enrolment",
    response="EnrolmentAdded",
    body="EnrolmentInput",
    errors=(403, 409),
)
def add_enrolments(course_id: int) -> ResponseReturnValue:
    """Enrol a group or a list of students; returns how many were newly added."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    body = _body()
    e = Errors()
    if "student_ids" in body:
        ids = body["student_ids"]
        if "school_id" in body:
            e.add("school_id", N_("학교·학년·학급 단위 등록과 개별 등록 중 하나만 보내세요."))
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= STUDENT_IDS_MAX
            or any(isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= ID_MAX for i in ids)
        ):
            e.add("student_ids", N_("학생 번호(정수) 목록을 %(max)d개 이내로 보내세요."), max=STUDENT_IDS_MAX)
        e.raise_if_any()
        added = enrolment.enrol_students(dbs(), user, course, ids)
    else:
        _json_types(e, body, ints=("school_id", "grade", "class_id"))
        school_id = parse_id(e, body, "school_id")
        grade = parse_int(e, body, "grade", required=False)
        class_id = parse_id(e, body, "class_id", required=False)
        e.raise_if_any()
        added = enrolment.enrol_group(
            dbs(),
            user,
            course,
            school_id=school_id,  # type: ignore[arg-type]
            grade=grade,
            class_id=class_id,
        )
    return jsonify(added=added)


@bp.delete("/courses/<int:course_id>/enrolments/<int:student_id>")
@describe(
    summary="Remove one student from the course",
    tag="enrolment",
    response=None,
    status=204,
    errors=(403, 409),
)
def remove_enrolment(course_id: int, student_id: int) -> ResponseReturnValue:
    """Unenrol a student."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    enrolment.unenrol(dbs(), user, course, student_id)
    return "", 204


# -- instructors and notifications -----------------------------------------------------------------


@bp.get("/instructors")
@describe(
    summary="The caller's office's instructor pool",
    tag="instructors",
    response="InstructorList",
    errors=(403,),
    query=(QueryParam("theme_id", {"type": "integer"}, "only instructors of this theme"),),
)
def list_instructors() -> ResponseReturnValue:
    """Instructors of the caller's office, optionally of one theme."""
    user = actor()
    e = Errors()
    theme_id = parse_id(e, request.args, "theme_id", required=False)
    e.raise_if_any()
    pool = instructors.list_pool(dbs(), user, theme_id=theme_id)
    return jsonify(items=[instructor_json(p) for p in pool])


@bp.get("/notifications")
@describe(summary="The caller's newest notifications (50)", tag="notifications", response="NotificationList")
def list_notifications() -> ResponseReturnValue:
    """The caller's notifications and how many are unread."""
    user = actor()
    items = notifications.list_notifications(dbs(), user)
    return jsonify(
        items=[notification_json(n) for n in items], unread=notifications.unread_count(dbs(), user)
    )


@bp.post("/notifications/read")
@describe(summary="Mark every notification read", tag="notifications", response="NotificationsRead")
def read_notifications() -> ResponseReturnValue:
    """Mark all the caller's notifications read."""
    _body(optional=True)
    marked = notifications.mark_all_read(dbs(), actor())
    return jsonify(marked=marked)


# -- the document ----------------------------------------------------------------------------------


@bp.get("/openapi.json")
@describe(summary="This API's OpenAPI 3.1 document", tag="meta", response="OpenAPI", public=True)
def openapi() -> ResponseReturnValue:
    """The OpenAPI document, built from the routes themselves."""
    response = jsonify(build_document(current_app))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


__all__ = ["bp"]
