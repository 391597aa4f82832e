"""OneRoster CSV import page: office admins upload orgs/classes/users/enrollments CSVs (or a zip)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, render_template, request

from app.audit import audit
from app.auth import actor, login_required
from app.extensions import dbs
from app.forms import parse_int
from app.i18n import translate
from app.transactions import discard
from courses import roster_import
from courses.errors import Errors, ValidationError
from courses.models import AccessAction, Role

bp = Blueprint("roster", __name__)


@bp.route("/admin/import", methods=["GET", "POST"])
@login_required
def import_page():  # type: ignore[no-untyped-def]
    user = actor()
    if user.role != Role.office_admin:
        abort(403)
    result = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        e = Errors()
        school_year = parse_int(e, request.form, "school_year", required=False)
        # Read every upload whole: the importer decodes and checks each one (CSV, or a zip of them).
        files = [(f.filename or "", f.read()) for f in request.files.getlist("files") if f and f.filename]
        try:
            e.raise_if_any()
            result = roster_import.import_roster(dbs(), user, files, school_year=school_year)
            audit(AccessAction.roster_imported, "roster", None, ", ".join(name for name, _ in files)[:200])
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
    # Row errors are part of a result (the good rows were kept): 200. Only an unusable form is 422.
    return render_template(
        "admin/import.html",
        orgs=_known_orgs(user),
        templates=list(roster_import.EXAMPLES),
        result=result,
        errors=errors,
        entities=roster_import.ENTITIES,
        max_passwords=roster_import.MAX_PLAIN_PASSWORDS,
        default_year=roster_import.default_school_year(date.today()),
        values=request.form,
    ), (422 if errors else 200)


def _known_orgs(user: Any) -> list[Any]:
    """The office and its schools with the sourcedIds the files must refer to."""
    from sqlalchemy import select

    from courses.models import Organisation

    return list(
        dbs().scalars(
            select(Organisation)
            .where(Organisation.office_id == user.office_id)
            .order_by(Organisation.kind, Organisation.name)
            .limit(500)
        )
    )


@bp.route("/admin/import/template/<kind>.csv")
@login_required
def template(kind: str):  # type: ignore[no-untyped-def]
    """An empty roster file of one kind: its columns and one example row (CSV with BOM)."""
    from flask import Response

    from courses.exports import CSV_MIME, to_csv

    if actor().role != Role.office_admin:
        abort(403)
    if kind not in roster_import.EXAMPLES:
        abort(404)
    columns, rows = roster_import.template_table(kind)
    return Response(
        to_csv(columns, rows),
        mimetype=CSV_MIME,
        headers={"Content-Disposition": f"attachment; filename={kind}.csv"},
    )


__all__ = ["bp"]
