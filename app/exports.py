"""Exports as HTTP responses: every view that offers CSV or XLSX calls `export_response`."""

from __future__ import annotations

import re

from flask import Response, abort
from flask_babel import format_datetime

from app.i18n import translate
from courses.db import utcnow
from courses.errors import N_
from courses.exports import FORMATS, Report, export


def wants_export(fmt: str | None) -> bool:
    """Whether the request asks for an export (400 for an unknown format)."""
    if not fmt:
        return False
    if fmt not in FORMATS:
        abort(400)
    return True


def export_response(report: Report, fmt: str, filename: str) -> Response:
    """The report as a download in the format asked for (csv, xlsx), headers translated.

    Every export starts with a title block: the report's title, what it is about (course, school,
    period …) and the date and time it was exported.
    """
    headers = [translate(c) for c in report.columns]
    title = translate(report.title)
    about = [f"{translate(label)}: {value}" for label, value in report.context]
    exported = f"{translate(N_('내보낸 날짜'))}: {format_datetime(utcnow(), 'yyyy-MM-dd HH:mm')}"
    heading = [title, *about, exported]
    body, mimetype, ext = export(report, headers, fmt, title, heading)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:80] or "export"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={safe}.{ext}"}
    )
