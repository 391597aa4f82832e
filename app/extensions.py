"""Extensions, created unbound; `create_app` binds them."""

from __future__ import annotations

from typing import cast

from flask import g, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from courses.db import Base

# Plain SQLAlchemy models (courses.models) on our own metadata: the domain never imports Flask.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
login_manager = LoginManager()


class ApiAwareCSRF(CSRFProtect):  # type: ignore[misc]  # Flask-WTF ships no types
    """CSRF for browser sessions; a request authenticated by a bearer token (app.api_tokens) carries no
    ambient credential a forged page could use, so it needs none."""

    def protect(self, *args: object, **kwargs: object) -> None:
        if g.get("api_token") is not None:
            return
        super().protect(*args, **kwargs)


csrf = ApiAwareCSRF()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_address_key() -> str:
    """Throttle failed logins per address, whatever the account names tried (password spraying)."""
    return f"addr|{get_remote_address()}"


def login_rate_key() -> str:
    """Throttle failed logins per address and account name (guessing one account's password)."""
    username = (
        request.form.get("username") or (request.get_json(silent=True) or {}).get("username") or ""
    ).strip()
    return f"{get_remote_address()}|{username.lower()[:64]}"


def dbs() -> Session:
    """This request's database session: Flask-SQLAlchemy's scoped proxy, typed as the Session it stands for
    (the domain's services take a plain `sqlalchemy.orm.Session`)."""
    return cast(Session, db.session)
