"""Home pages per role, the theme catalogue, notifications and the language switch."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user

from app.auth import actor, login_required
from app.extensions import dbs
from app.input import safe_redirect_target
from courses import catalog, notifications
from courses import home as home_data
from courses.models import Role
from courses.policy import may_manage_themes
from courses.workflow import STATUS_LABELS

bp = Blueprint("main", __name__)

HOME_TEMPLATES = {
    Role.student: "home/student.html",
    Role.teacher: "home/teacher.html",
    Role.school_admin: "home/school_admin.html",
    Role.office_admin: "home/office_admin.html",
    Role.instructor: "home/instructor.html",
    Role.parent: "home/parent.html",
}


@bp.route("/")
@login_required
def home():  # type: ignore[no-untyped-def]
    user = actor()
    return render_template(HOME_TEMPLATES[user.role], data=home_data.home_for(dbs(), user))


@bp.route("/themes")
@login_required
def themes():  # type: ignore[no-untyped-def]
    user = actor()
    manage = may_manage_themes(user)  # those who manage the list also see the retired themes
    return render_template(
        "themes.html",
        themes=catalog.list_themes(dbs(), include_inactive=manage),
        manage=manage,
        deliveries=catalog.DELIVERY_GUIDE,
        role_guide=catalog.ROLE_GUIDE[user.role],
    )


@bp.route("/notifications")
@login_required
def notifications_page():  # type: ignore[no-untyped-def]
    user = actor()
    items = notifications.list_notifications(dbs(), user)
    return render_template("notifications.html", items=items)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def notifications_read():  # type: ignore[no-untyped-def]
    notifications.mark_all_read(dbs(), actor())
    return redirect(url_for("main.notifications_page"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):  # type: ignore[no-untyped-def]
    if code in ("ko", "en"):
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.locale = code
    return redirect(safe_redirect_target(request.form.get("next"), "/"))


@bp.app_context_processor
def inject_globals():  # type: ignore[no-untyped-def]
    unread = notifications.unread_count(dbs(), current_user) if current_user.is_authenticated else 0
    return {"unread_count": unread, "statuses": STATUS_LABELS}
