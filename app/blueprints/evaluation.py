"""Course evaluation pages: the survey form for students (and parents), its results with charts and exports,
the runners' settings, and the office's comparison of courses and instructors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.audit import audit
from app.auth import actor, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.forms import parse_local_datetime
from app.i18n import translate
from app.transactions import discard
from courses import evaluation
from courses.db import utcnow
from courses.errors import N_, Errors, ValidationError
from courses.exports import Report
from courses.models import AccessAction, Course
from courses.policy import get_course
from courses.reports import course_context

bp = Blueprint("evaluation", __name__)
RESULT_COLUMNS = [
    N_("문항"),
    N_("1점"),
    N_("2점"),
    N_("3점"),
    N_("4점"),
    N_("5점"),
    N_("응답 수"),
    N_("평균"),
]
COMPARE_COURSE_COLUMNS = [
    N_("강좌"),
    N_("강사"),
    N_("응답 수"),
    N_("대상 인원"),
    N_("응답률(%)"),
    N_("평균 점수"),
]
COMPARE_INSTRUCTOR_COLUMNS = [
    N_("강사"),
    N_("강좌 수"),
    N_("응답 수"),
    N_("대상 인원"),
    N_("응답률(%)"),
    N_("평균 점수"),
]


def _open_days() -> int:
    return int(current_app.config["SURVEY_OPEN_DAYS"])


def _errors(err: ValidationError) -> dict[str, str]:
    return {f: translate(m, p) for f, (m, p) in err.errors.items()}


@bp.route("/courses/<int:course_id>/survey", methods=["GET", "POST"])
@login_required
def answer(course_id: int):  # type: ignore[no-untyped-def]
    """The survey form for an enrolled student (or a parent, when included); one answer each."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    now = utcnow()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            evaluation.answer(dbs(), user, course, request.form, now, open_days=_open_days())
        except ValidationError as err:
            discard()
            errors = _errors(err)
        else:
            flash(_("설문에 답해 주셔서 고맙습니다."), "success")
            return redirect(url_for("courses.detail", course_id=course.id))
    state = evaluation.respondent_state(dbs(), user, course, now, open_days=_open_days())
    return render_template(
        "evaluation/answer.html",
        course=course,
        state=state,
        items=state.survey.items,
        field=evaluation.item_field,
        labels=evaluation.RATING_LABELS,
        errors=errors,
    ), (422 if errors else 200)


def _results_report(course: Course, res: evaluation.SurveyResults) -> Report:
    rate = f"{res.responses}/{res.eligible}" + (f" ({res.rate}%)" if res.rate is not None else "")
    context: list[tuple[str, object]] = [*course_context(course), (N_("응답률"), rate)]
    if not res.enough:
        context.append(
            (
                N_("안내"),
                translate(
                    N_("응답이 %(n)d건 미만이라 문항별 결과를 보여 주지 않습니다."),
                    {"n": evaluation.MIN_RESPONSES},
                ),
            )
        )
    return Report(
        title=N_("강좌 만족도 조사 결과"),
        context=context,
        columns=RESULT_COLUMNS,
        rows=[
            [translate(r.item.prompt), *r.counts, r.answered, r.mean if r.mean is not None else ""]
            for r in res.ratings
        ],
    )


@bp.route("/courses/<int:course_id>/survey/results")
@login_required
def results(course_id: int):  # type: ignore[no-untyped-def]
    """Aggregated results: a bar chart per rating item, the response rate, free texts; CSV/XLSX of the counts."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    res = evaluation.results(dbs(), user, course, open_days=_open_days())
    table = _results_report(course, res)
    fmt = request.args.get("format")
    if wants_export(fmt):
        audit(
            AccessAction.survey_results_exported,
            "course",
            course.id,
            f"{course.title} ({fmt}, {res.responses})",
        )
        return export_response(table, fmt, f"survey-course-{course.id}")  # type: ignore[arg-type]
    audit(AccessAction.survey_results_viewed, "course", course.id, f"{course.title} ({res.responses})")
    labels = [f"{n} ({translate(evaluation.RATING_LABELS[n])})" for n in range(1, 6)]
    charts = [
        {
            "labels": labels,
            "datasets": [{"label": translate(N_("응답 수")), "data": r.counts}],
        }
        for r in res.ratings
    ]
    state = evaluation.state(dbs(), user, course, utcnow(), open_days=_open_days())
    return render_template(
        "evaluation/results.html",
        course=course,
        res=res,
        charts=charts,
        state=state,
        minimum=evaluation.MIN_RESPONSES,
        labels=evaluation.RATING_LABELS,
    )


@bp.route("/courses/<int:course_id>/survey/settings", methods=["GET", "POST"])
@login_required
def settings(course_id: int):  # type: ignore[no-untyped-def]
    """The closing time and whether parents are asked (the course's runners)."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        e = Errors()
        closes_at = parse_local_datetime(e, request.form, "closes_at")
        try:
            e.raise_if_any()
            evaluation.update_settings(
                dbs(),
                user,
                course,
                closes_at,
                request.form.get("include_parents") == "on",
                open_days=_open_days(),
            )
        except ValidationError as err:
            discard()
            errors = _errors(err)
        else:
            flash(_("설문 설정을 저장했습니다."), "success")
            return redirect(url_for("evaluation.settings", course_id=course.id))
    state = evaluation.manager_state(dbs(), user, course, utcnow(), open_days=_open_days())
    return render_template(
        "evaluation/settings.html", course=course, state=state, survey=state.survey, errors=errors
    ), (422 if errors else 200)


def _compare_reports(office: str, rows: Any, by_instructor: Any) -> tuple[Report, Report]:
    def pct(v: float | None) -> object:
        return v if v is not None else ""

    courses = Report(
        title=N_("강좌 평가 비교: 강좌별"),
        context=[(N_("교육청"), office)],
        columns=COMPARE_COURSE_COLUMNS,
        rows=[[r.label, r.instructor, r.responses, r.eligible, pct(r.rate), pct(r.mean)] for r in rows],
    )
    instructors = Report(
        title=N_("강좌 평가 비교: 강사별"),
        context=[(N_("교육청"), office)],
        columns=COMPARE_INSTRUCTOR_COLUMNS,
        rows=[
            [
                r.label or translate(N_("지정되지 않음")),
                r.courses,
                r.responses,
                r.eligible,
                pct(r.rate),
                pct(r.mean),
            ]
            for r in by_instructor
        ],
    )
    return courses, instructors


@bp.route("/evaluation/compare")
@login_required
def compare():  # type: ignore[no-untyped-def]
    """Office admins: every surveyed course and instructor of the office side by side; chart and exports."""
    user = actor()
    by_course, by_instructor = evaluation.compare(dbs(), user)
    office = user.org.name  # an office admin's organisation is their office
    courses, instructors = _compare_reports(office, by_course, by_instructor)
    fmt = request.args.get("format")
    if wants_export(fmt):
        which = request.args.get("by", "course")
        report = instructors if which == "instructor" else courses
        name = "survey-compare-instructors" if which == "instructor" else "survey-compare-courses"
        return export_response(report, fmt, name)  # type: ignore[arg-type]
    rated = [r for r in by_course if r.mean is not None]
    chart = {
        "labels": [r.label for r in rated],
        "datasets": [{"label": translate(N_("평균 점수")), "data": [r.mean for r in rated]}],
    }
    return render_template(
        "evaluation/compare.html",
        by_course=by_course,
        by_instructor=by_instructor,
        chart=chart,
        minimum=evaluation.MIN_RESPONSES,
    )


__all__ = ["bp"]
