"""Office and school administration: themes, the instructor pool."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth import actor, login_required
from app.extensions import dbs
from app.forms import parse_int
from app.i18n import translate
from app.transactions import discard
from courses import catalog, instructors
from courses.errors import Errors, ValidationError
from courses.models import Role, Theme

bp = Blueprint("admin", __name__)


@bp.route("/admin/themes/<int:theme_id>", methods=["GET", "POST"])
@login_required
def edit_theme(theme_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    if user.role != Role.office_admin:
        abort(403)
    theme = dbs().get(Theme, theme_id) or abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            catalog.update_theme(
                dbs(),
                user,
                theme,
                name=request.form.get("name", ""),
                description=request.form.get("description", ""),
                active=request.form.get("active") == "on",
                elements=request.form.get("elements", "").splitlines(),
            )
            flash(_("주제를 저장했습니다."), "success")
            return redirect(url_for("main.themes"))
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
    return render_template("admin/theme.html", theme=theme, errors=errors), (422 if errors else 200)


@bp.route("/instructors", methods=["GET", "POST"])
@login_required
def pool():  # type: ignore[no-untyped-def]
    user = actor()
    if user.role not in (Role.office_admin, Role.school_admin, Role.teacher):
        abort(403)
    errors: dict[str, str] = {}
    values = dict(request.form)
    if request.method == "POST":
        e = Errors()
        theme_ids = [parse_int(e, {"t": t}, "t") for t in request.form.getlist("theme_ids")]
        e.raise_if_any()
        try:
            instructors.register_instructor(
                dbs(),
                user,
                username=request.form.get("username", ""),
                name=request.form.get("name", ""),
                external=request.form.get("external") == "on" or user.role != Role.office_admin,
                affiliation=request.form.get("affiliation", ""),
                bio=request.form.get("bio", ""),
                availability=request.form.get("availability", ""),
                phone=request.form.get("phone", ""),
                theme_ids=[t for t in theme_ids if t is not None],
            )
            flash(_("강사를 등록했습니다."), "success")
            return redirect(url_for("admin.pool"))
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
    theme_raw = request.args.get("theme")
    theme_id = int(theme_raw) if theme_raw and theme_raw.isdigit() else None
    return render_template(
        "admin/instructors.html",
        pool=instructors.list_pool(dbs(), user, theme_id=theme_id),
        themes=catalog.list_themes(dbs()),
        theme_id=theme_id,
        errors=errors,
        values=values,
    ), (422 if errors else 200)
