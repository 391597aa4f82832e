"""Reports: the same data as a table, a chart, CSV and XLSX."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.audit import audit
from app.auth import actor, login_required
from app.exports import export_response, wants_export
from app.extensions import dbs
from app.i18n import translate
from courses import reports
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
