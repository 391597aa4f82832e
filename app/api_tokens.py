"""Bearer tokens on /api/v1: authenticate the request before CSRF and rate limits run, check the endpoint's
scope, log every use. A browser session still needs its CSRF token; a bearer request never gets a cookie."""

from __future__ import annotations

from flask import Flask, Response, g, request

from app.extensions import dbs
from courses import api_tokens
from courses.errors import N_
from courses.models import ApiToken

# The scope each API endpoint needs from a token: the one table (a test checks every endpoint is here).
ENDPOINT_SCOPES: dict[str, str | None] = {
    "api.openapi": None,  # public
    "api.me": "courses:read",
    "api.themes": "courses:read",
    "api.list_courses": "courses:read",
    "api.course_detail": "courses:read",
    "api.list_instructors": "courses:read",
    "api.create_course": "courses:write",
    "api.course_action": "courses:write",
    "api.assign_instructor": "courses:write",
    "api.list_enrolments": "enrolment:read",
    "api.add_enrolments": "enrolment:write",
    "api.remove_enrolment": "enrolment:write",
    "api.list_notifications": "notifications:read",
    "api.read_notifications": "notifications:write",
    "api.start_upload": "videos:write",
    "api.put_watch_settings": "videos:write",
    "api.video_detail": "courses:read",
    "api.upload_parts": "videos:write",
    "api.part_urls": "videos:write",
    "api.complete_upload": "videos:write",
    "api.delete_video": "videos:write",
    "api.post_progress": "progress:write",
    "api.get_progress": "progress:read",
}


def bearer_secret() -> str | None:
    """The token in `Authorization: Bearer …`, if the request carries one."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_token() -> ApiToken | None:
    """The token this request authenticated with."""
    token: ApiToken | None = g.get("api_token")
    return token


def rate_key() -> str:
    """Rate limits for token requests count per token (by its hash: unique even across databases)."""
    token = current_token()
    return f"token|{token.token_hash[:24]}" if token is not None else "session"


def init_app(app: Flask) -> None:
    """Register the hooks; call before CSRF and the limiter are bound, so this runs first."""

    @app.before_request
    def authenticate_bearer() -> None:
        secret = bearer_secret()
        if secret is None:
            return
        if not request.path.startswith("/api/v1/") or request.endpoint == "sfu_webhook.sfu_webhook":
            raise api_tokens.TokenRefused(N_("API 토큰은 /api/v1 아래에서만 쓸 수 있습니다."))
        token, owner = api_tokens.authenticate(dbs(), secret)
        g.api_token = token
        g._login_user = owner  # Flask-Login's current user for this request only: no session, no cookie
        g.session_user = owner
        if request.endpoint not in ENDPOINT_SCOPES:
            raise api_tokens.ScopeMissing(N_("이 주소는 API 토큰으로 부를 수 없습니다."))
        scope = ENDPOINT_SCOPES[request.endpoint]
        if scope is not None:
            api_tokens.require_scope(token, scope)

    @app.after_request
    def log_token_use(response: Response) -> Response:
        token = current_token()
        if token is None:
            return response
        # Runs after the boundary's commit (hooks run in reverse order): a refused request wrote nothing to
        # keep, but its use is logged all the same, in its own commit.
        if response.status_code >= 400:
            dbs().rollback()
        api_tokens.record_use(
            dbs(),
            token,
            method=request.method,
            path=request.path,
            status=response.status_code,
            ip=request.remote_addr or "",
        )
        dbs().commit()
        response.headers.pop("Set-Cookie", None)
        return response
