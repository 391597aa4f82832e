"""Reports: the same data as a table, a chart, CSV and XLSX."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.audit import audit
from app.auth import actor, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.i18n import translate
from courses import reports
from courses.errors import N_
from courses.models import AccessAction

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.route("/enrolment")
@login_required
def enrolment():  # type: ignore[no-untyped-def]
    report = reports.enrolment_report(dbs(), actor())
    headers = [translate(c) for c in report.columns]
    fmt = request.args.get("format")
    if wants_export(fmt):
        audit(AccessAction.enrolment_report_exported, "report", None, f"enrolment ({fmt})")
        return export_response(report, fmt, "enrolment")  # type: ignore[arg-type]
    audit(AccessAction.enrolment_report_viewed, "report", None, "enrolment")
    label_cols = len(headers) - 3  # the last three columns are counts
    chart = {
        "labels": [" ".join(str(v) for v in row[:label_cols]) for row in report.rows],
        "datasets": [
            {"label": headers[i], "data": [row[i] for row in report.rows]}
            for i in range(label_cols, len(headers))
        ],
    }
    return render_template(
        "reports/enrolment.html", report=report, headers=headers, chart=chart, title=translate(report.title)
    )


@bp.route("/completion")
@login_required
def completion():  # type: ignore[no-untyped-def]
    """Completion by school (office) or class (school, teacher): rate, hours, who is behind; charts; exports."""
    from app.input import ID_MAX, bounded_int
    from courses import dashboards
    from courses.models import Organisation

    user = actor()
    args = request.args

    def num(name: str, hi: int = ID_MAX) -> int | None:
        return bounded_int(args.get(name), 0, 0, hi) or None

    f = dashboards.Filters(
        school_id=num("school_id"),
        grade=num("grade", 12),
        class_id=num("class_id"),
        theme_id=num("theme_id"),
        school_year=num("school_year", 3000),
    )
    d = dashboards.completion_dashboard(dbs(), user, f)
    org = dbs().get(
        Organisation, f.school_id if f.school_id and user.role.value == "office_admin" else user.org_id
    )
    scope_name = org.name if org else ""
    report = dashboards.as_report(d, scope_name)
    fmt = request.args.get("format")
    if wants_export(fmt):
        audit(AccessAction.dashboard_exported, "report", None, f"completion ({fmt}) {scope_name}")
        return export_response(report, fmt, "completion")  # type: ignore[arg-type]
    audit(AccessAction.dashboard_viewed, "report", None, f"completion {scope_name}")
    headers = [translate(c) for c in report.columns]
    rate_chart = {
        "labels": [str(r[0]) for r in d.rows],
        "max": 100,
        "datasets": [{"label": translate(N_("이수율(%%)")), "data": [r[5] or 0 for r in d.rows]}],
    }
    dist_chart = {
        "labels": [
            translate(N_("시작 안 함")),
            translate(N_("절반 미만")),
            translate(N_("절반 이상")),
            translate(N_("모두 이수")),
        ],
        "datasets": [{"label": translate(N_("수강 등록")), "data": d.distribution}],
    }
    return render_template(
        "reports/completion.html",
        d=d,
        f=f,
        headers=headers,
        report=report,
        rate_chart=rate_chart,
        dist_chart=dist_chart,
        options=dashboards.filter_options(dbs(), user),
        scope_name=scope_name,
    )
