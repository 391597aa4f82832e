"""Office and school administration: themes, the instructor pool."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth import actor, login_required
from app.extensions import dbs
from app.forms import parse_int_list
from app.i18n import translate
from app.transactions import discard
from courses import catalog, instructors
from courses.errors import Conflict, Errors, ValidationError
from courses.models import Role, Theme
from courses.policy import may_manage_themes


def _field_errors(err: ValidationError) -> dict[str, str]:
    return {f: translate(m, p) for f, (m, p) in err.errors.items()}


bp = Blueprint("admin", __name__)


def _theme_page(theme: Theme | None, errors: dict[str, str], status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    used = catalog.courses_using(dbs(), theme) if theme is not None else 0
    page = render_template("admin/theme.html", theme=theme, errors=errors, used=used, **extra)
    return page, (422 if errors else status)


def _theme_form() -> dict[str, Any]:
    return {
        "name": request.form.get("name", ""),
        "name_en": request.form.get("name_en"),  # absent: kept as it is
        "description": request.form.get("description", ""),
        "elements": request.form.get("elements", "").splitlines(),
    }


@bp.route("/admin/themes/new", methods=["GET", "POST"])
@login_required
def new_theme():  # type: ignore[no-untyped-def]
    """Office admins add a theme (code, names, description, content elements)."""
    user = actor()
    if not may_manage_themes(user):
        abort(403)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            fields = _theme_form()
            fields["name_en"] = fields["name_en"] or ""
            theme = catalog.create_theme(dbs(), user, code=request.form.get("code", ""), **fields)
            flash(
                _("주제 「%(name)s」를 추가했습니다. 이제 새 요청에서 고를 수 있습니다.", name=theme.name),
                "success",
            )
            return redirect(url_for("main.themes"))
        except ValidationError as err:
            discard()
            errors = _field_errors(err)
    return _theme_page(None, errors)


@bp.route("/admin/themes/<int:theme_id>", methods=["GET", "POST"])
@login_required
def edit_theme(theme_id: int):  # type: ignore[no-untyped-def]
    user = actor()
    if not may_manage_themes(user):
        abort(403)
    theme = dbs().get(Theme, theme_id) or abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            catalog.update_theme(dbs(), user, theme, **_theme_form())
            flash(_("주제를 저장했습니다."), "success")
            return redirect(url_for("main.themes"))
        except ValidationError as err:
            discard()
            errors = _field_errors(err)
    return _theme_page(theme, errors)


@bp.route("/admin/themes/<int:theme_id>/<any(retire, reactivate):op>", methods=["POST"])
@login_required
def theme_active(theme_id: int, op: str):  # type: ignore[no-untyped-def]
    """Retire a theme (no longer offered in new requests, still shown on its courses) or bring it back."""
    user = actor()
    if not may_manage_themes(user):
        abort(403)
    theme = dbs().get(Theme, theme_id) or abort(404)
    catalog.set_theme_active(dbs(), user, theme, op == "reactivate")
    if op == "retire":
        flash(
            _("사용을 중지했습니다. 새 요청에서는 고를 수 없고, 이 주제로 만든 강좌에는 그대로 표시됩니다."),
            "success",
        )
    else:
        flash(_("다시 사용합니다. 새 요청에서 고를 수 있습니다."), "success")
    return redirect(url_for("admin.edit_theme", theme_id=theme.id))


@bp.route("/admin/themes/<int:theme_id>/delete", methods=["POST"])
@login_required
def delete_theme(theme_id: int):  # type: ignore[no-untyped-def]
    """Delete a theme no course uses; refused with the reason (and the way out: retiring) otherwise."""
    user = actor()
    if not may_manage_themes(user):
        abort(403)
    theme = dbs().get(Theme, theme_id) or abort(404)
    name = theme.name
    try:
        catalog.delete_theme(dbs(), user, theme)
    except Conflict as err:
        discard()
        theme = dbs().get(Theme, theme_id) or abort(404)
        return _theme_page(theme, {}, 409, refused=translate(err.message, err.params))
    flash(_("주제 「%(name)s」를 삭제했습니다.", name=name), "success")
    return redirect(url_for("main.themes"))


def _profile_form(e: Errors) -> dict[str, Any]:
    return {
        "affiliation": request.form.get("affiliation", ""),
        "bio": request.form.get("bio", ""),
        "availability": request.form.get("availability", ""),
        "phone": request.form.get("phone", ""),
        "theme_ids": parse_int_list(e, request.form.getlist("theme_ids"), "theme_ids"),
    }


@bp.route("/instructors", methods=["GET", "POST"])
@login_required
def pool():  # type: ignore[no-untyped-def]
    user = actor()
    if user.role not in (Role.office_admin, Role.school_admin, Role.teacher):
        abort(403)
    errors: dict[str, str] = {}
    values: dict[str, Any] = dict(request.form)
    values["theme_ids"] = request.form.getlist("theme_ids")
    if request.method == "POST":
        try:
            e = Errors()
            fields = _profile_form(e)
            e.raise_if_any()
            instructors.register_instructor(
                dbs(),
                user,
                username=request.form.get("username", ""),
                name=request.form.get("name", ""),
                external=request.form.get("external") == "on" or user.role != Role.office_admin,
                **fields,
            )
            flash(_("강사를 등록했습니다."), "success")
            return redirect(url_for("admin.pool"))
        except ValidationError as err:
            discard()
            errors = _field_errors(err)
    theme_raw = request.args.get("theme")
    theme_id = int(theme_raw) if theme_raw and theme_raw.isdigit() and len(theme_raw) <= 9 else None
    manage = user.role == Role.office_admin
    return render_template(
        "admin/instructors.html",
        pool=instructors.list_pool(dbs(), user, theme_id=theme_id, include_inactive=manage),
        themes=catalog.list_themes(dbs()),
        theme_id=theme_id,
        manage=manage,
        errors=errors,
        values=values,
    ), (422 if errors else 200)


@bp.route("/instructors/<int:profile_id>", methods=["GET", "POST"])
@login_required
def edit_instructor(profile_id: int):  # type: ignore[no-untyped-def]
    """The office's admins edit an instructor's affiliation, introduction, availability, phone and themes."""
    user = actor()
    profile = instructors.get_profile(dbs(), user, profile_id)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "affiliation": profile.affiliation or "",
        "bio": profile.bio,
        "availability": profile.availability,
        "phone": profile.phone or "",
        "theme_ids": [str(t.id) for t in profile.themes],
    }
    if request.method == "POST":
        values = dict(request.form)
        values["theme_ids"] = request.form.getlist("theme_ids")
        try:
            e = Errors()
            fields = _profile_form(e)
            e.raise_if_any()
            instructors.update_instructor(dbs(), user, profile, **fields)
            flash(_("강사 정보를 저장했습니다."), "success")
            return redirect(url_for("admin.edit_instructor", profile_id=profile.id))
        except ValidationError as err:
            discard()
            errors = _field_errors(err)
            profile = instructors.get_profile(dbs(), user, profile_id)
    held = {t.id for t in profile.themes}
    themes = [t for t in catalog.list_themes(dbs(), include_inactive=True) if t.active or t.id in held]
    return render_template(
        "admin/instructor.html",
        profile=profile,
        themes=themes,
        upcoming=instructors.upcoming_courses(dbs(), profile),
        errors=errors,
        values=values,
    ), (422 if errors else 200)


@bp.route("/instructors/<int:profile_id>/<any(deactivate, reactivate):op>", methods=["POST"])
@login_required
def instructor_active(profile_id: int, op: str):  # type: ignore[no-untyped-def]
    """Deactivate an instructor (no new assignments; their courses keep them) or reactivate them."""
    user = actor()
    profile = instructors.get_profile(dbs(), user, profile_id)
    instructors.set_active(dbs(), user, profile, op == "reactivate")
    if op == "deactivate":
        flash(
            _(
                "비활성화했습니다. 새 강좌에는 배정할 수 없고, 이미 맡은 강좌는 그대로입니다. 로그인 계정은 그대로 남습니다."
            ),
            "success",
        )
    else:
        flash(_("다시 활성화했습니다. 새 강좌에 배정할 수 있습니다."), "success")
    return redirect(url_for("admin.edit_instructor", profile_id=profile.id))
