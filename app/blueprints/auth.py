"""Login and logout."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import begin_session, end_session, login_required
from app.extensions import dbs, limiter, login_address_key, login_rate_key
from app.input import safe_redirect_target
from courses.accounts import authenticate

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    return safe_redirect_target(target, url_for("main.home"))


@bp.route("/login", methods=["GET", "POST"])
# Only failed attempts count, so a class logging in from one school address is not throttled. Two limits:
# per address and account name (guessing one password), and per address alone (spraying many accounts).
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    key_func=login_rate_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code != 302,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"],
    key_func=login_address_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code != 302,
)
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("main.home"))
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if not username or not password or len(username) > 64 or len(password) > 256:
            error = _("아이디와 비밀번호를 입력하세요.")
        else:
            user = authenticate(dbs(), username, password)
            if user is None:
                error = _("아이디 또는 비밀번호가 올바르지 않습니다.")
            else:
                begin_session(user)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # type: ignore[no-untyped-def]
    end_session()
    flash(_("로그아웃되었습니다."), "info")
    return redirect(url_for("auth.login"))
