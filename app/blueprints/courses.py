"""Course requests and course pages: request → approve/reject → instructor → enrol → run → confirm."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit import audit
from app.auth import actor, login_required
from app.extensions import dbs
from app.forms import SEOUL, parse_course_input, parse_id, parse_int, parse_local_datetime
from app.i18n import translate
from app.input import ID_MAX, bounded_int
from app.transactions import discard
from courses import catalog, enrolment, evaluation, instructors, videos, watch, workflow
from courses.db import utcnow
from courses.errors import N_, Errors, ValidationError
from courses.home import visible_courses
from courses.models import (
    AccessAction,
    Course,
    CourseStatus,
    InstructorProfile,
    Organisation,
    OrgKind,
    Role,
    SchoolClass,
    User,
)
from courses.policy import get_course, school_scope, taught_class_ids
from courses.text import clean

bp = Blueprint("courses", __name__, url_prefix="/courses")


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    from courses.dashboards import filter_options

    user = actor()
    args = request.args
    status_raw = args.get("status") or None
    status = None
    if status_raw:
        try:
            status = CourseStatus(status_raw)
        except ValueError:
            abort(400)
    school_id = bounded_int(args.get("school_id"), 0, 0, ID_MAX) or None
    theme_id = bounded_int(args.get("theme_id"), 0, 0, ID_MAX) or None
    q = clean(args.get("q"))[:60]
    page = bounded_int(args.get("page"), 1, 1, 10_000)
    items = visible_courses(
        dbs(),
        user,
        status=status,
        school_id=school_id,
        theme_id=theme_id,
        q=q,
        limit=50,
        offset=(page - 1) * 50,
    )
    filters = {
        "status": status.value if status else None,
        "school_id": school_id,
        "theme_id": theme_id,
        "q": q or None,
    }
    return render_template(
        "courses/index.html",
        courses=items,
        filters=filters,
        options=filter_options(dbs(), user),
        page=page,
        statuses=workflow.STATUS_LABELS,
    )


def form_options(user: User) -> dict[str, Any]:
    """Choices the request form offers this user (themes, classes, schools, instructors)."""
    s = dbs()
    classes: list[SchoolClass] = []
    schools: list[Organisation] = []
    if user.role == Role.teacher:
        classes = list(
            s.scalars(
                select(SchoolClass)
                .where(SchoolClass.id.in_(taught_class_ids(user)))
                .order_by(SchoolClass.grade, SchoolClass.name)
            )
        )
    elif user.role == Role.school_admin:
        classes = list(
            s.scalars(
                select(SchoolClass)
                .where(SchoolClass.school_id == user.org_id)
                .order_by(SchoolClass.grade, SchoolClass.name)
            )
        )
    if user.role == Role.office_admin:
        schools = list(
            s.scalars(
                select(Organisation)
                .where(school_scope(user), Organisation.kind == OrgKind.school)
                .order_by(Organisation.name)
            )
        )
    return {
        "themes": catalog.list_themes(s),
        "classes": classes,
        "schools": schools,
        "levels": workflow.requestable_levels(user),
        **instructor_choices(user),
    }


def instructor_choices(user: User) -> dict[str, Any]:
    """Who can be made a course's instructor: the office's active pool, and the teachers of the user's school."""
    s = dbs()
    pool = list(
        s.execute(
            select(User, InstructorProfile)
            .join(InstructorProfile, InstructorProfile.user_id == User.id)
            .options(selectinload(InstructorProfile.themes))
            .where(InstructorProfile.office_id == user.office_id, InstructorProfile.active, User.active)
            .order_by(User.name)
        )
    )
    teachers: list[User] = []
    if user.role in (Role.school_admin, Role.teacher):
        teachers = list(
            s.scalars(
                select(User)
                .where(User.role == Role.teacher, User.org_id == user.org_id, User.active)
                .order_by(User.name)
            )
        )
    return {"pool": pool, "teachers": teachers}


# What each field of the request form is called, so that every error names its field.
FIELD_LABELS = {
    "level": N_("요청 단위"),
    "theme_id": N_("주제"),
    "content_element_id": N_("내용 요소"),
    "title": N_("강좌명"),
    "goals": N_("목표"),
    "delivery": N_("운영 방식"),
    "lesson_count": N_("수업 횟수"),
    "hours": N_("차시 (총 수업시수)"),
    "start_date": N_("시작일"),
    "end_date": N_("종료일"),
    "schedule_note": N_("일정 메모"),
    "schedule": N_("차시별 일정"),
    "class_id": N_("대상 학급"),
    "targets": N_("대상"),
    "instructor_mode": N_("강사 유형"),
    "instructor_id": N_("강사"),
    "recording_policy": N_("녹화"),
    "completion_threshold_pct": N_("실시간 수업 출석 기준"),
    "watch_threshold_pct": N_("녹화 강의 시청 기준"),
}
LESSON_LABELS = {
    "date": N_("%(n)d차시 날짜"),
    "start": N_("%(n)d차시 시작 시각"),
    "end": N_("%(n)d차시 종료 시각"),
}


def field_label(name: str) -> str:
    """The label of a request form field, translated ("2차시 종료 시각" for lesson_end_2)."""
    if m := workflow.LESSON_FIELD_RE.match(name):
        return translate(LESSON_LABELS[m[1]], {"n": int(m[2])})
    return translate(FIELD_LABELS.get(name, name))


def lesson_rows(values: dict[str, Any]) -> int:
    """How many lessons' date-and-time rows the form shows: the lesson count, or more where more are filled."""
    raw = str(values.get("lesson_count") or "").strip()
    count = int(raw) if raw.isdigit() and len(raw) <= 3 else 0
    count = min(count, workflow.MAX_LESSONS)
    for n in range(workflow.MAX_LESSONS, count, -1):
        if any(values.get(workflow.lesson_field(k, n)) for k in ("date", "start", "end")):
            return n
    return count


def _render_form(
    options: dict[str, Any], values: dict[str, Any], errors: dict[str, str], **extra: Any
) -> tuple[str, int]:
    values.setdefault("level", options["levels"][0])
    labels = {f: field_label(f) for f in errors}
    page = render_template(
        "courses/new.html",
        errors=errors,
        labels=labels,
        values=values,
        rows=lesson_rows(values),
        lesson_field=workflow.lesson_field,
        **options,
        **extra,
    )
    return page, 422 if errors else 200


def _posted_values() -> dict[str, Any]:
    values: dict[str, Any] = dict(request.form)
    values["targets"] = request.form.getlist("targets")
    return values


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    user = actor()
    options = form_options(user)
    if not options["levels"]:
        abort(403)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"targets": []}
    if request.method == "POST":
        values = _posted_values()
        if request.form.get("op") == "rows":  # without JavaScript: show as many lesson rows as lessons
            return _render_form(options, values, {})
        try:
            data = parse_course_input(request.form, request.form.getlist)
            course = workflow.submit_request(dbs(), user, data)
            flash(_("강좌를 요청했습니다. 승인되면 알림으로 알려 드립니다."), "success")
            return redirect(url_for("courses.detail", course_id=course.id))
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
    return _render_form(options, values, errors)


def course_values(course: Course, *, with_dates: bool = True) -> dict[str, Any]:
    """A course as the request form's values (to fix a rejected request, or, without its dates, to copy one)."""
    targets = []
    for t in course.targets:
        if t.class_id is not None:
            targets.append(f"class:{t.school_id}:{t.class_id}")
        elif t.grade is not None:
            targets.append(f"grade:{t.school_id}:{t.grade}")
        else:
            targets.append(f"school:{t.school_id}")
    values: dict[str, Any] = {
        "level": course.level.value,
        "theme_id": course.theme_id,
        "content_element_id": course.content_element_id or "",
        "title": course.title,
        "goals": course.goals,
        "delivery": course.delivery.value,
        "lesson_count": course.lesson_count,
        "hours": course.hours,
        "start_date": course.start_date.isoformat() if with_dates else "",
        "end_date": course.end_date.isoformat() if with_dates else "",
        "schedule_note": course.schedule_note,
        "class_id": course.class_id or "",
        "targets": targets,
        "instructor_mode": course.instructor_mode.value,
        "instructor_id": course.instructor_id or "",
        "recording_policy": course.recording_policy.value,
        "completion_threshold_pct": course.completion_threshold_pct,
        "watch_threshold_pct": course.watch_threshold_pct,
    }
    for lesson in course.lessons:  # the times of day are kept for a copy; its dates are chosen anew
        if lesson.starts_at is None:
            continue
        starts = lesson.starts_at.astimezone(SEOUL)
        if with_dates:
            values[workflow.lesson_field("date", lesson.number)] = starts.date().isoformat()
        values[workflow.lesson_field("start", lesson.number)] = f"{starts:%H:%M}"
        if lesson.ends_at is not None:
            values[workflow.lesson_field("end", lesson.number)] = f"{lesson.ends_at.astimezone(SEOUL):%H:%M}"
    return values


@bp.route("/<int:course_id>/edit", methods=["GET", "POST"])
@login_required
def edit(course_id: int):  # type: ignore[no-untyped-def]
    """The requester fixes a rejected request and sends it again."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    if not workflow.may_resubmit(dbs(), user, course):
        abort(403)
    options = form_options(user)
    options["levels"] = [course.level.value]  # a request keeps its level (and its class)
    if course.school_class is not None:
        options["classes"] = [course.school_class]
    errors: dict[str, str] = {}
    values: dict[str, Any] = course_values(course)
    if request.method == "POST":
        values = _posted_values()
        if request.form.get("op") == "rows":
            return _render_form(options, values, {}, editing=course)
        try:
            workflow.resubmit(dbs(), user, course, parse_course_input(request.form, request.form.getlist))
            flash(_("고쳐서 다시 요청했습니다. 승인되면 알림으로 알려 드립니다."), "success")
            return redirect(url_for("courses.detail", course_id=course.id))
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
    return _render_form(options, values, errors, editing=course)


@bp.route("/<int:course_id>/copy")
@login_required
def copy(course_id: int):  # type: ignore[no-untyped-def]
    """A new request filled in from one of the actor's own (for the next term): dates left to choose."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    options = form_options(user)
    if course.requester_id != user.id or course.level.value not in options["levels"]:
        abort(403)
    page, _status = _render_form(
        options,
        course_values(course, with_dates=False),
        {},
        copying=course,
        form_action=url_for("courses.new"),
    )
    return page


@bp.route("/<int:course_id>")
@login_required
def detail(course_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    course = get_course(dbs(), user, course_id)
    enrolment.touch(dbs(), user, course)
    actions = workflow.allowed_actions(dbs(), user, course)
    options = instructor_choices(user) if "assign_instructor" in actions else {}
    count = enrolment.enrolment_count(dbs(), course)
    from courses.live import live_sessions_for

    by_lesson = videos.videos_by_lesson(dbs(), course)
    watched = watch.own_percent_by_video(dbs(), user, by_lesson.values())
    learner = _learner_view(user, course)
    never_held = []
    if "complete" in actions:
        from courses import completion

        never_held = [
            f"{f.number}. {f.title}"
            for f in completion.lesson_facts(dbs(), course)
            if f.required and not f.held
        ]
    survey_state = evaluation.state(
        dbs(), user, course, utcnow(), open_days=current_app.config["SURVEY_OPEN_DAYS"]
    )
    return render_template(
        "courses/detail.html",
        learner=learner,
        never_held=never_held,
        survey_state=survey_state,
        videos=by_lesson,
        video_states=videos.STATE_LABELS,
        watched=watched,
        course=course,
        actions=actions,
        live_sessions=live_sessions_for(dbs(), course),
        history=workflow.history_lines(dbs(), course) if user.role not in (Role.student, Role.parent) else [],
        instructor_from=instructors.affiliation_of(dbs(), course.instructor) if course.instructor else "",
        enrolled=count,
        statuses=workflow.STATUS_LABELS,
        options=options,
    )


def _learner_view(user: User, course: Any) -> dict[str, Any] | None:
    """What a student sees of their own progress, or a parent of their children's (None for staff)."""
    from courses import completion

    if user.role == Role.student:
        facts, row = completion.own_standing(dbs(), user, course)
        rows = [row] if row else []
    elif user.role == Role.parent:
        facts, rows = completion.children_standing(dbs(), user, course)
    else:
        return None
    nxt = (
        completion.next_lesson(facts, rows[0] if rows else None, utcnow())
        if user.role == Role.student
        else None
    )
    records = completion.confirmed_records(dbs(), course, [r.user_id for r in rows])
    return {
        "facts": facts,
        "rows": rows,
        "next": nxt,
        "final": completion.is_final(course),
        "records": records,
    }


@bp.route("/<int:course_id>/<action>", methods=["POST"])
@login_required
def act(course_id: int, action: str):  # type: ignore[no-untyped-def]
    if action not in workflow.ACTIONS:
        abort(404)
    user = actor()
    course = get_course(dbs(), user, course_id)
    try:
        workflow.ACTIONS[action](dbs(), user, course, request.form.get("reason"))
    except ValidationError as err:
        discard()
        for _f, (m, p) in err.errors.items():
            flash(translate(m, p), "error")
        return redirect(url_for("courses.detail", course_id=course_id))
    flash(translate(workflow.DONE_MESSAGES[action]), "success")
    return redirect(url_for("courses.detail", course_id=course_id))


@bp.route("/<int:course_id>/instructor", methods=["POST"])
@login_required
def assign_instructor(course_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    course = get_course(dbs(), user, course_id)
    e = Errors()
    instructor_id = parse_id(e, request.form, "instructor_id")
    try:
        e.raise_if_any()
        assert instructor_id is not None  # raise_if_any: a missing one is an error above
        workflow.assign_instructor(
            dbs(), user, course, request.form.get("instructor_mode", ""), instructor_id
        )
    except ValidationError as err:
        discard()
        for f, (m, p) in err.errors.items():
            flash(f"{field_label(f)}: {translate(m, p)}", "error")
        return redirect(url_for("courses.detail", course_id=course_id))
    flash(_("강사를 지정했습니다."), "success")
    return redirect(url_for("courses.detail", course_id=course_id))


@bp.route("/<int:course_id>/enrolment", methods=["GET", "POST"])
@login_required
def enrolment_page(course_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    course = get_course(dbs(), user, course_id)
    if request.method == "POST":
        form = request.form
        e = Errors()
        op = form.get("op")
        if op == "group":
            school_id = parse_id(e, form, "school_id")
            grade = parse_int(e, form, "grade", required=False)
            class_id = parse_id(e, form, "class_id", required=False)
            e.raise_if_any()
            added = enrolment.enrol_group(
                dbs(),
                user,
                course,
                school_id=school_id,  # type: ignore[arg-type]  # raise_if_any: not None here
                grade=grade,
                class_id=class_id,
            )
            flash(_("%(n)d명을 등록했습니다.", n=added), "success")
        elif op == "add":
            username = (form.get("username") or "").strip()
            student = dbs().scalar(select(User).where(User.username == username)) if username else None
            if student is None:
                flash(_("학생을 찾을 수 없습니다."), "error")
            else:
                added = enrolment.enrol_students(dbs(), user, course, [student.id])
                flash(_("%(n)d명을 등록했습니다.", n=added), "success")
        elif op == "remove":
            sid = parse_id(e, form, "student_id")
            e.raise_if_any()
            enrolment.unenrol(dbs(), user, course, sid)  # type: ignore[arg-type]
            flash(_("등록을 취소했습니다."), "success")
        else:
            abort(400)
        return redirect(url_for("courses.enrolment_page", course_id=course_id))
    rows = enrolment.list_enrolled(dbs(), user, course)
    audit(AccessAction.enrolment_viewed, "course", course.id, f"{course.title} ({len(rows)})")
    can_edit = "enrol" in workflow.allowed_actions(dbs(), user, course)
    return render_template(
        "courses/enrolment.html",
        course=course,
        rows=rows,
        groups=enrolment.enrolment_groups(dbs(), user, course) if can_edit else [],
        can_edit=can_edit,
        total=enrolment.enrolment_count(dbs(), course),
    )


@bp.route("/<int:course_id>/lessons/<int:lesson_id>", methods=["POST"])
@login_required
def edit_lesson(course_id: int, lesson_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    course = get_course(dbs(), user, course_id)
    e = Errors()
    starts = parse_local_datetime(e, request.form, "starts_at")
    ends = parse_local_datetime(e, request.form, "ends_at")
    e.raise_if_any()
    workflow.update_lesson(
        dbs(),
        user,
        course,
        lesson_id,
        title=request.form.get("title", ""),
        starts_at=starts,
        ends_at=ends,
        description=request.form.get("description", ""),
    )
    flash(_("차시를 저장했습니다."), "success")
    return redirect(url_for("courses.detail", course_id=course_id) + "#lessons")


@bp.route("/<int:course_id>/materials", methods=["POST"])
@login_required
def add_material(course_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    course = get_course(dbs(), user, course_id)
    workflow.add_material(
        dbs(), user, course, title=request.form.get("title", ""), url=request.form.get("url", "")
    )
    flash(_("자료를 추가했습니다."), "success")
    return redirect(url_for("courses.detail", course_id=course_id) + "#materials")


__all__ = ["bp"]
