"""Login plumbing: server-side sessions checked on every request, and the acting user for services.

The signed cookie carries the user id and a random session token; the session itself lives in the
database (`courses.sessions`), so logout, a password change, disabling the account or "sign out
everywhere" end every copy of it at once, and the idle and absolute lifetimes hold however the cookie
is replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_login import login_required as _login_required

from app.extensions import dbs
from courses import sessions
from courses.errors import N_
from courses.models import Role, User

SESSION_TOKEN = "sid"
_View = TypeVar("_View", bound=Callable[..., Any])
# Flask-Login ships no types: the same decorator, typed, so that typed views stay typed.
login_required = cast(Callable[[_View], _View], _login_required)

_ENDED_MESSAGES = {
    sessions.Outcome.idle: N_("오랫동안 사용하지 않아 로그아웃되었습니다. 다시 로그인하세요."),
    sessions.Outcome.expired: N_("로그인한 지 오래되어 로그아웃되었습니다. 다시 로그인하세요."),
    sessions.Outcome.revoked: N_("로그아웃되었습니다. 다시 로그인하세요."),
    sessions.Outcome.disabled: N_("사용이 중지된 계정입니다."),
}


def init_login(app: Flask, manager: LoginManager) -> None:
    """Wire Flask-Login to the server-side sessions."""
    manager.login_view = "auth.login"
    manager.login_message = N_("로그인이 필요합니다.")
    manager.session_protection = "strong"

    @manager.user_loader  # type: ignore[untyped-decorator]
    def load_user(user_id: str) -> User | None:
        user = g.get("session_user")
        return user if user is not None and str(user.id) == user_id else None

    @app.before_request
    def check_session() -> None:
        raw_id = session.get("_user_id")
        if raw_id is None:
            return None
        try:
            user_id = int(raw_id)
        except (TypeError, ValueError):
            user_id = -1
        outcome, user = sessions.check(
            dbs(),
            session.get(SESSION_TOKEN),
            user_id,
            idle=timedelta(minutes=app.config["IDLE_TIMEOUT_MIN"]),
        )
        if user is not None:
            g.session_user = user
            session.permanent = True
            if user.must_change_password and request.endpoint not in FIRST_LOGIN_ENDPOINTS:
                if request.path.startswith("/api/"):
                    abort(403)
                flash(_FIRST_LOGIN, "warning")
                return redirect(url_for("account.page") + "#pw-h")  # type: ignore[return-value]
            return None
        lang = session.get("lang")
        logout_user()
        session.clear()
        if lang:
            session["lang"] = lang
        if request.path.startswith("/api/"):
            abort(401)
        message = _ENDED_MESSAGES.get(outcome)
        if message:
            flash(message, "warning")
        return redirect(url_for("auth.login", next=request.full_path))  # type: ignore[return-value]


# With a one-time password, only choosing one's own password (and leaving) is open.
FIRST_LOGIN_ENDPOINTS = frozenset(
    {"account.page", "account.change_password", "auth.logout", "static", "main.set_language"}
)
_FIRST_LOGIN = N_("임시 비밀번호로 로그인했습니다. 먼저 나만의 새 비밀번호를 정하세요.")


def begin_session(user: User) -> None:
    """Log the user in on this browser: a fresh cookie session bound to a new server-side session."""
    from flask import current_app

    lang = session.get("lang")
    session.clear()  # nothing from before carries over
    if lang:
        session["lang"] = lang
    session[SESSION_TOKEN] = sessions.start(
        dbs(),
        user,
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
        lifetime=timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"]),
    )
    g.session_user = user
    login_user(user)
    session.permanent = True


def end_session() -> None:
    """Log out this browser and end its server-side session."""
    sessions.end(dbs(), session.get(SESSION_TOKEN))
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


def current_token() -> str | None:
    """This browser's session token."""
    return session.get(SESSION_TOKEN)


def actor() -> User:
    """The logged-in user as the domain sees them (views are all behind login_required)."""
    user = current_user._get_current_object()  # noqa: SLF001  (the real User, not the proxy)
    if not isinstance(user, User):
        abort(401)
    return user


def role_in(*roles: Role) -> bool:
    """Whether the current user has one of the roles."""
    return current_user.is_authenticated and current_user.role in roles
