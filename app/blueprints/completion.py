"""Completion pages: the class's progress at a glance, the school's confirmation, the rules, transcripts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.audit import audit
from app.auth import actor, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.forms import parse_int
from app.i18n import translate
from app.input import ID_MAX, bounded_int
from app.transactions import discard
from courses import completion
from courses.db import utcnow
from courses.errors import N_, Errors, InvalidTransition, ValidationError
from courses.exports import Report
from courses.models import AccessAction
from courses.policy import get_course, may
from courses.reports import course_context

bp = Blueprint("completion", __name__)


def matrix_rows_html(m: completion.Matrix, done_label: str) -> list[tuple[completion.StudentRow, Markup]]:
    """Each row with its lesson cells as ready HTML: a 1,000-student table has 20,000 cells, and building
    them here costs a tenth of what the template's per-cell lookups and escaping did (the text is numbers)."""
    mark = f' <span aria-label="{escape(done_label)}">✓</span>'
    out = []
    for r in m.rows:
        parts = []
        for f in m.facts:
            c = r.cells.get(f.id)
            if not f.held:
                parts.append(f'<td class="cell cell-na">{f"{c.pct:g}%" if c else "–"}</td>')
            elif c is not None and c.done:
                parts.append(f'<td class="cell cell-done">{c.pct:g}%{mark}</td>')
            elif c is not None and c.pct > 0:
                parts.append(f'<td class="cell cell-partial">{c.pct:g}%</td>')
            else:
                parts.append('<td class="cell cell-none">0%</td>')
        out.append((r, Markup("".join(parts))))
    return out


def matrix_report(m: completion.Matrix, title: str, school_name: str | None = None) -> Report:
    """Students × lessons as a table: percent per lesson, lessons done, completed, hours."""
    columns: list[str] = [N_("반"), N_("번호"), N_("이름")]
    columns += [f"{f.number}. {f.title}" for f in m.facts]
    columns += [N_("이수한 차시"), N_("필요한 차시"), N_("이수"), N_("인정 시수")]
    rows: list[list[object]] = []
    for r in m.rows:
        rows.append(
            [
                r.class_label,
                r.number or "",
                r.name,
                *[r.cells.get(f.id, completion.EMPTY).pct for f in m.facts],
                r.outcome.done,
                r.outcome.required,
                translate(N_("이수")) if r.outcome.completed else translate(N_("미이수")),
                r.outcome.hours,
            ]
        )
    return Report(title=title, columns=columns, rows=rows, context=course_context(m.course, school_name))


def _histogram(m: completion.Matrix) -> dict[str, Any]:
    """How many students have done 0, 1, … of the required lessons."""
    top = max((r.outcome.required for r in m.rows), default=0)
    counts = [0] * (top + 1)
    for r in m.rows:
        counts[min(r.outcome.done, top)] += 1
    return {
        "labels": [translate(N_("%(n)d개"), {"n": i}) for i in range(top + 1)],
        "datasets": [{"label": translate(N_("학생 수")), "data": counts}],
    }


def _by_class(m: completion.Matrix) -> dict[str, Any]:
    """Completed and not yet, per class."""
    classes: dict[str, list[int]] = {}
    for r in m.rows:
        c = classes.setdefault(r.class_label or "-", [0, 0])
        c[0 if r.outcome.completed else 1] += 1
    labels = sorted(classes)
    return {
        "labels": labels,
        "datasets": [
            {
                "label": translate(N_("이수")),
                "data": [classes[k][0] for k in labels],
                "backgroundColor": "#0f6b2f",
            },
            {
                "label": translate(N_("미이수")),
                "data": [classes[k][1] for k in labels],
                "backgroundColor": "#b3b3b3",
            },
        ],
    }


@bp.route("/courses/<int:course_id>/completion")
@login_required
def matrix(course_id: int):  # type: ignore[no-untyped-def]
    """The class's progress: students × lessons with colours and numbers, who is behind, exports."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    class_id = bounded_int(request.args.get("class_id"), 0, 0, ID_MAX) or None
    m = completion.course_matrix(dbs(), user, course, class_id=class_id)
    behind_only = request.args.get("behind") == "1"
    behind = m.behind()
    if behind_only:
        m.rows = behind
    table = matrix_report(m, N_("이수 현황"))
    fmt = request.args.get("format")
    if wants_export(fmt):
        audit(AccessAction.completion_exported, "course", course.id, f"{course.title} ({fmt}, {len(m.rows)})")
        return export_response(table, fmt, f"completion-course-{course.id}")  # type: ignore[arg-type]
    audit(AccessAction.completion_viewed, "course", course.id, f"{course.title} ({len(m.rows)})")
    return render_template(
        "completion/matrix.html",
        rows_html=matrix_rows_html,
        course=course,
        m=m,
        behind=behind,
        behind_only=behind_only,
        class_id=class_id,
        may_rules=may(dbs(), user, course, "set_completion_rules"),
        may_confirm=user.role.value == "school_admin" and may(dbs(), user, course, "view_results"),
        histogram=_histogram(m),
        by_class=_by_class(m),
        errors={},
    )


@bp.route("/courses/<int:course_id>/completion/rules", methods=["POST"])
@login_required
def rules(course_id: int):  # type: ignore[no-untyped-def]
    """Set the thresholds, the required lessons and the hours of each lesson."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    e = Errors()
    watch_pct = parse_int(e, request.form, "watch_pct")
    attend_pct = parse_int(e, request.form, "attend_pct")
    lessons: dict[int, tuple[bool, int | None]] = {}
    for lesson in course.lessons:
        hours = parse_int(e, request.form, f"hours-{lesson.id}")
        lessons[lesson.id] = (request.form.get(f"required-{lesson.id}") == "on", hours)
    try:
        e.raise_if_any()
        limits = (current_app.config["COMPLETION_MIN_PCT"], 100)
        completion.update_rules(
            dbs(), user, course, watch_pct=watch_pct, attend_pct=attend_pct, lessons=lessons, limits=limits
        )
    except ValidationError as err:
        discard()
        for field, (msg, params) in err.errors.items():
            flash(f"{_field_label(field, course)}: {translate(msg, params)}", "error")
        return redirect(url_for("completion.matrix", course_id=course.id) + "#rules-h")
    flash(_("이수 기준을 저장했습니다."), "success")
    return redirect(url_for("completion.matrix", course_id=course.id) + "#rules-h")


def _field_label(field: str, course: Any) -> str:
    if field == "watch_pct":
        return str(_("녹화 강의 시청 기준"))
    if field == "attend_pct":
        return str(_("실시간 수업 출석 기준"))
    if field.startswith(("hours-", "lesson-")):
        lid = int(field.split("-")[1])
        number = next((lesson.number for lesson in course.lessons if lesson.id == lid), "?")
        return str(_("%(n)s차시 시수", n=number))
    return str(_("이수에 필요한 차시"))


@bp.route("/courses/<int:course_id>/completion/confirm", methods=["GET", "POST"])
@login_required
def confirm(course_id: int):  # type: ignore[no-untyped-def]
    """The school's confirmation: the per-student table, warnings, then a confirmation that locks."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    if request.method == "POST":
        e = Errors()
        expected = parse_int(e, request.form, "expected")
        if request.form.get("agree") != "on":
            e.add("agree", N_("잠기는 내용을 확인했다고 표시해 주세요."))
        try:
            e.raise_if_any()
            conf = completion.confirm(dbs(), user, course, expected=expected)
        except (ValidationError, InvalidTransition) as err:
            discard()
            if isinstance(err, ValidationError):
                for _f, (msg, params) in err.errors.items():
                    flash(translate(msg, params), "error")
            else:
                flash(translate(err.message, err.params), "error")
            return redirect(url_for("completion.confirm", course_id=course.id))
        audit(AccessAction.completion_confirmed, "course", course.id, f"{course.title} ({conf.students})")
        flash(
            _(
                "이수를 확인했습니다: %(n)d명 중 %(c)d명 이수, %(h)d시수 인정.",
                n=conf.students,
                c=conf.completed,
                h=conf.hours_granted,
            ),
            "success",
        )
        return redirect(url_for("completion.confirm", course_id=course.id))
    p = completion.preview(dbs(), user, course)
    fmt = request.args.get("format")
    table = matrix_report(p.matrix, N_("이수 확인"), p.school.name)
    if wants_export(fmt):
        audit(
            AccessAction.completion_exported,
            "course",
            course.id,
            f"{course.title} ({fmt}, {len(p.matrix.rows)})",
        )
        return export_response(table, fmt, f"completion-{course.id}-school-{p.school.id}")  # type: ignore[arg-type]
    audit(AccessAction.completion_viewed, "course", course.id, f"{course.title} ({len(p.matrix.rows)})")
    return render_template(
        "completion/confirm.html",
        rows_html=matrix_rows_html,
        course=course,
        p=p,
        by_class=_by_class(p.matrix),
        year_of=completion.school_year_of,
    )


@bp.route("/courses/<int:course_id>/completion/revoke", methods=["POST"])
@login_required
def revoke(course_id: int):  # type: ignore[no-untyped-def]
    """Un-confirm the school's confirmation, with a reason."""
    user = actor()
    course = get_course(dbs(), user, course_id)
    try:
        completion.revoke(dbs(), user, course, request.form.get("reason"))
    except ValidationError as err:
        discard()
        for _f, (msg, params) in err.errors.items():
            flash(translate(msg, params), "error")
        return redirect(url_for("completion.confirm", course_id=course.id) + "#revoke-h")
    audit(AccessAction.completion_revoked, "course", course.id, course.title)
    flash(_("이수 확인을 취소했습니다. 이전 기록은 이력으로 남습니다."), "success")
    return redirect(url_for("completion.confirm", course_id=course.id))


TRANSCRIPT_COLUMNS = [
    N_("학년도"),
    N_("주제"),
    N_("강좌"),
    N_("기간"),
    N_("이수"),
    N_("인정 시수"),
    N_("이수한 차시"),
    N_("필요한 차시"),
    N_("확인한 학교"),
    N_("확인 일시"),
]


@bp.route("/students/<int:student_id>/transcript")
@login_required
def transcript(student_id: int):  # type: ignore[no-untyped-def]
    """A student's credited hours per theme and school year: printable, exportable."""
    user = actor()
    year = bounded_int(request.args.get("year"), 0, 0, 3000) or None
    t = completion.transcript(dbs(), user, student_id, school_year=year)
    table = Report(
        title=N_("범교과 학습 이수 기록"),
        columns=TRANSCRIPT_COLUMNS,
        rows=[
            [
                line.school_year,
                line.theme,
                line.course_title,
                line.period,
                translate(N_("이수")) if line.completed else translate(N_("미이수")),
                line.hours,
                line.lessons_done,
                line.lessons_required,
                line.school,
                format_datetime(line.confirmed_at, "yyyy-MM-dd HH:mm"),
            ]
            for line in t.lines
        ],
        context=[
            (N_("학생"), t.student.name),
            (N_("학급"), t.class_label),
            (N_("학년도"), year or translate(N_("전체"))),
        ],
    )
    fmt = request.args.get("format")
    if wants_export(fmt):
        if user.id != t.student.id:
            audit(AccessAction.transcript_exported, "student", t.student.id, f"{t.student.name} ({fmt})")
        return export_response(table, fmt, f"transcript-{t.student.id}")  # type: ignore[arg-type]
    if user.id != t.student.id:
        audit(AccessAction.transcript_viewed, "student", t.student.id, t.student.name)
    years = sorted({line.school_year for line in t.lines}, reverse=True)
    return render_template("completion/transcript.html", t=t, year=year, years=years, now=utcnow())
