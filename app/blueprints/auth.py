"""Login and logout; a forgotten password chosen anew by an e-mailed link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import begin_session, end_session, login_required
from app.extensions import dbs, limiter, login_address_key, login_rate_key
from app.i18n import translate
from app.input import safe_redirect_target
from app.transactions import discard
from courses import password_reset
from courses.accounts import authenticate
from courses.errors import ValidationError

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


@bp.route("/password/forgot", methods=["GET", "POST"])
# Every request counts (the answer is the same whether an account matched), per address.
@limiter.limit(
    lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], key_func=login_address_key, methods=["POST"]
)
def forgot_password():  # type: ignore[no-untyped-def]
    """Ask for a reset link by username or e-mail address; the mail leaves from the worker, not from here."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        login = request.form.get("login", "")
        try:
            password_reset.request_reset(
                dbs(),
                login,
                ip=request.remote_addr or "",
                minutes=current_app.config["PASSWORD_RESET_MINUTES"],
            )
        except ValidationError as err:
            discard()
            errors = {f: translate(m, p) for f, (m, p) in err.errors.items()}
        else:
            return render_template("auth/forgot.html", sent=True, errors={})
    return render_template(
        "auth/forgot.html", sent=False, errors=errors, can_send=password_reset.can_send()
    ), (422 if errors else 200)


@bp.route("/password/reset/<path:token>", methods=["GET", "POST"])  # anything pasted gets the message
@limiter.limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"], key_func=login_address_key, methods=["POST"]
)
def reset_password(token: str):  # type: ignore[no-untyped-def]
    """Choose a new password with a link from the mail (invalid, used or expired links: a 404 or 410 page)."""
    password_reset.find(dbs(), token)
    if request.method == "GET":
        return render_template("auth/reset.html", errors={})
    form = request.form
    try:
        password_reset.reset_password(
            dbs(), token, form.get("new", ""), form.get("confirm", ""), ip=request.remote_addr or ""
        )
    except ValidationError as err:
        discard()
        return render_template(
            "auth/reset.html", errors={f: translate(m, p) for f, (m, p) in err.errors.items()}
        ), 422
    if current_user.is_authenticated:
        end_session()  # every session ended with the change, this browser's too
    flash(
        _("비밀번호를 바꾸었습니다. 새 비밀번호로 로그인하세요. 다른 기기에서는 모두 로그아웃되었습니다."),
        "success",
    )
    return redirect(url_for("auth.login"))
