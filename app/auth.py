"""Login plumbing: the user loader, the idle timeout, and the acting user for services."""

from __future__ import annotations

import time

from flask import Flask, abort, flash, redirect, request, session, url_for
from flask_login import LoginManager, current_user, logout_user

from app.extensions import db
from courses.errors import N_
from courses.models import Role, User


def init_login(app: Flask, manager: LoginManager) -> None:
    """Wire Flask-Login and the idle timeout into the app."""
    manager.login_view = "auth.login"
    manager.login_message = N_("로그인이 필요합니다.")
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        try:
            user = db.session.get(User, int(user_id))
        except ValueError:
            return None
        return user if user is not None and user.active else None

    @app.before_request
    def idle_timeout() -> None:
        if not current_user.is_authenticated:
            return
        now = time.time()
        last = session.get("seen", now)
        limit = app.config["IDLE_TIMEOUT_MIN"] * 60
        if now - last > limit:
            logout_user()
            session.clear()
            if request.path.startswith("/api/"):
                abort(401)
            flash(N_("오랫동안 사용하지 않아 로그아웃되었습니다. 다시 로그인하세요."), "warning")
            return redirect(url_for("auth.login", next=request.full_path))  # type: ignore[return-value]
        session["seen"] = now
        session.permanent = True
        return None


def actor() -> User:
    """The logged-in user as the domain sees them (views are all behind login_required)."""
    user = current_user._get_current_object()  # noqa: SLF001  (the real User, not the proxy)
    if not isinstance(user, User):
        abort(401)
    return user


def role_in(*roles: Role) -> bool:
    """Whether the current user has one of the roles."""
    return current_user.is_authenticated and current_user.role in roles
