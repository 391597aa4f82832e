"""Instructor fees: the office's rate table and monthly statements (generate, approve, correct, export), and
each instructor's own statements, read-only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from app.auth import actor, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.forms import parse_date, parse_int
from app.i18n import translate
from app.transactions import discard
from courses import fees
from courses.errors import N_, Errors, ValidationError
from courses.exports import Report
from courses.models import FeeStatement, Role, StatementStatus

bp = Blueprint("fees", __name__, url_prefix="/fees")

LINE_COLUMNS = [
    N_("구분"),
    N_("일시"),
    N_("강좌·차시"),
    N_("실제 진행(분)"),
    N_("시수"),
    N_("단가(원)"),
    N_("금액(원)"),
    N_("포인트"),
    N_("사유"),
]


def _messages(err: ValidationError) -> dict[str, str]:
    return {f: translate(m, p) for f, (m, p) in err.errors.items()}


def _month_text(raw: str | None) -> str:
    return raw.strip() if raw else f"{fees.current_month():%Y-%m}"


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """Office admins: the rate table and the month's statements; instructors and teachers: their own."""
    user = actor()
    if user.role == Role.office_admin:
        return _office_page(_month_text(request.args.get("month")))
    if user.role not in (Role.instructor, Role.teacher):
        abort(403)
    return render_template("fees/mine.html", rows=fees.statements(dbs(), user), statuses=fees.STATUS_LABELS)


def _office_page(
    month_raw: str, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Any:
    user = actor()
    errors = dict(errors or {})
    e = Errors()
    month = fees.parse_month(e, month_raw)
    if e:
        errors.update({f: translate(m, p) for f, (m, p) in e.errors.items()})
    rows = fees.statements(dbs(), user, month) if month else []
    chart = {
        "labels": [r.instructor_name for r in rows],
        "datasets": [{"label": translate(N_("금액(원)")), "data": [r.totals.amount for r in rows]}],
    }
    return render_template(
        "fees/office.html",
        month=month,
        month_raw=month_raw,
        rows=rows,
        chart=chart,
        table=fees.rate_table(dbs(), user),
        types=fees.INSTRUCTOR_TYPE_LABELS,
        statuses=fees.STATUS_LABELS,
        errors=errors,
        values=values or {},
    ), (422 if errors else 200)


@bp.route("/rates", methods=["POST"])
@login_required
def add_rate():  # type: ignore[no-untyped-def]
    """A new row of the rate table (a change of rate is always a new row)."""
    user = actor()
    if user.role != Role.office_admin:
        abort(403)
    form = request.form
    e = Errors()
    won = parse_int(e, form, "rate_per_hour")
    points = parse_int(e, form, "points_per_hour")
    valid_from = parse_date(e, form, "valid_from")
    try:
        e.raise_if_any()
        fees.set_rate(
            dbs(),
            user,
            instructor_type=form.get("instructor_type", ""),
            rate_per_hour=won,
            points_per_hour=points,
            valid_from=valid_from,
        )
    except ValidationError as err:
        discard()
        return _office_page(_month_text(form.get("month")), _messages(err), dict(form))
    flash(_("요율을 추가했습니다."), "success")
    return redirect(url_for("fees.index", month=form.get("month") or None) + "#rates-h")


@bp.route("/generate", methods=["POST"])
@login_required
def generate():  # type: ignore[no-untyped-def]
    """Draft (or refresh) the month's statements from what was delivered."""
    user = actor()
    if user.role != Role.office_admin:
        abort(403)
    month_raw = request.form.get("month", "")
    try:
        result = fees.generate_statements(dbs(), user, month_raw)
    except ValidationError as err:
        discard()
        return _office_page(month_raw, _messages(err))
    flash(
        _(
            "명세서를 만들었습니다: 새로 %(created)d건, 다시 계산 %(refreshed)d건, 승인되어 그대로 둔 것 %(kept)d건.",
            created=result.created,
            refreshed=result.refreshed,
            kept=result.approved_kept,
        ),
        "success",
    )
    if result.without_rate:
        flash(
            _(
                "요율이 없는 차시 %(n)d개는 0원으로 계산했습니다. 요율을 추가한 뒤 다시 만드세요.",
                n=result.without_rate,
            ),
            "warning",
        )
    if result.not_on_approved:
        flash(
            _(
                "승인된 명세서에 없는 차시가 %(n)d개 있습니다. 해당 명세서에 정정 줄을 추가하세요.",
                n=len(result.not_on_approved),
            ),
            "warning",
        )
    return redirect(url_for("fees.index", month=month_raw))


def _lines_report(statement: FeeStatement) -> Report:
    lines = statement.lines
    total = fees.totals(lines)
    rows: list[list[object]] = [
        [
            translate(fees.KIND_LABELS[x.kind]),
            format_datetime(x.delivered_at, "yyyy-MM-dd HH:mm") if x.delivered_at else "",
            x.description,
            x.minutes if x.minutes is not None else "",
            x.hours,
            x.rate,
            x.amount,
            x.points,
            x.reason or "",
        ]
        for x in lines
    ]
    rows.append(
        [translate(N_("합계")), "", "", total.minutes, total.hours, "", total.amount, total.points, ""]
    )
    return Report(
        title=N_("강사료 명세서"),
        columns=LINE_COLUMNS,
        rows=rows,
        context=[
            (N_("강사"), statement.instructor.name),
            (N_("월"), f"{statement.month:%Y-%m}"),
            (N_("교육청"), fees.office_name(dbs(), statement)),
            (N_("상태"), translate(fees.STATUS_LABELS[statement.status])),
        ],
    )


def _statement_page(statement: FeeStatement, errors: dict[str, str] | None = None, values: Any = None) -> Any:
    user = actor()
    report = _lines_report(statement)
    return render_template(
        "fees/statement.html",
        statement=statement,
        report=report,
        headers=[translate(c) for c in report.columns],
        totals=fees.totals(statement.lines),
        manage=user.role == Role.office_admin,
        approved=statement.status == StatementStatus.approved,
        statuses=fees.STATUS_LABELS,
        kinds=fees.KIND_LABELS,
        errors=errors or {},
        values=values or {},
    ), (422 if errors else 200)


@bp.route("/statements/<int:statement_id>")
@login_required
def statement(statement_id: int):  # type: ignore[no-untyped-def]
    """One statement: its lines and totals; CSV or XLSX with ?format=."""
    st = fees.get_statement(dbs(), actor(), statement_id)
    fmt = request.args.get("format")
    if wants_export(fmt):
        return export_response(_lines_report(st), fmt, f"fees-{st.month:%Y-%m}-{st.instructor_id}")  # type: ignore[arg-type]
    return _statement_page(st)


def _managed(statement_id: int) -> FeeStatement:
    user = actor()
    st = fees.get_statement(dbs(), user, statement_id)
    if user.role != Role.office_admin:
        abort(403)
    return st


@bp.route("/statements/<int:statement_id>/approve", methods=["POST"])
@login_required
def approve(statement_id: int):  # type: ignore[no-untyped-def]
    """Approve a draft once its amounts were checked (the form asks to confirm)."""
    st = _managed(statement_id)
    if request.form.get("confirm") != "yes":
        return _statement_page(st, {"confirm": _("승인하려면 확인란에 표시하세요.")})
    fees.approve(dbs(), actor(), st)
    flash(_("명세서를 승인했습니다."), "success")
    return redirect(url_for("fees.statement", statement_id=st.id))


@bp.route("/statements/<int:statement_id>/refresh", methods=["POST"])
@login_required
def refresh(statement_id: int):  # type: ignore[no-untyped-def]
    """Recompute a draft from what was delivered and the rate table."""
    st = _managed(statement_id)
    fees.refresh_statement(dbs(), actor(), st)
    flash(_("명세서를 다시 계산했습니다."), "success")
    return redirect(url_for("fees.statement", statement_id=st.id))


@bp.route("/statements/<int:statement_id>/corrections", methods=["POST"])
@login_required
def correct(statement_id: int):  # type: ignore[no-untyped-def]
    """A correction of an approved statement: a new line, by hours of one line or by amount, with a reason."""
    st = _managed(statement_id)
    form = request.form
    e = Errors()
    line_id = parse_int(e, form, "line_id", required=False)
    hours = parse_int(e, form, "hours", required=False)
    amount = parse_int(e, form, "amount", required=False)
    try:
        e.raise_if_any()
        fees.add_correction(
            dbs(), actor(), st, reason=form.get("reason", ""), hours=hours, amount=amount, line_id=line_id
        )
    except ValidationError as err:
        discard()
        return _statement_page(fees.get_statement(dbs(), actor(), statement_id), _messages(err), dict(form))
    flash(_("정정 줄을 추가했습니다."), "success")
    return redirect(url_for("fees.statement", statement_id=st.id) + "#lines-h")


__all__ = ["bp"]
