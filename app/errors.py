"""Domain errors and HTTP errors become a clear page or a JSON error; nothing leaks across scopes."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.i18n import translate
from app.input import BadInput
from courses.errors import DomainError, ValidationError


def wants_json() -> bool:
    """API paths and JSON requests get JSON errors."""
    return request.path.startswith("/api/") or request.is_json


def error_payload(err: DomainError) -> dict[str, Any]:
    """The JSON body for a domain error."""
    body: dict[str, Any] = {
        "error": {"code": type(err).__name__, "message": translate(err.message, err.params)}
    }
    if isinstance(err, ValidationError):
        body["error"]["fields"] = {f: translate(m, p) for f, (m, p) in err.errors.items()}
    return body


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):  # type: ignore[no-untyped-def]
        if wants_json():
            return jsonify(error_payload(err)), err.status
        return render_template(
            "error.html", status=err.status, message=translate(err.message, err.params)
        ), err.status

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):  # type: ignore[no-untyped-def]
        message = _("보안 토큰이 없거나 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도하세요.")
        if wants_json():
            return jsonify({"error": {"code": "CSRFError", "message": message}}), 400
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(429)
    def too_many(err: HTTPException):  # type: ignore[no-untyped-def]
        message = _("시도가 너무 많습니다. 잠시 후(약 5분) 다시 시도하세요.")
        if wants_json():
            return jsonify({"error": {"code": "TooManyRequests", "message": message}}), 429
        if request.endpoint == "auth.login":
            return render_template("auth/login.html", error=message), 429
        if request.endpoint == "auth.forgot_password":
            from courses.password_reset import can_send

            return render_template(
                "auth/forgot.html", sent=False, errors={}, error=message, can_send=can_send()
            ), 429
        return render_template("error.html", status=429, message=message), 429

    @app.errorhandler(BadInput)
    def bad_input(err: BadInput):  # type: ignore[no-untyped-def]
        message = translate(err.message, err.params)
        if wants_json():
            return jsonify({"error": {"code": "BadRequest", "message": message}}), 400
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):  # type: ignore[no-untyped-def]
        messages = {
            400: _("요청이 올바르지 않습니다."),
            401: _("로그인이 필요합니다."),
            403: _("권한이 없습니다."),
            404: _("찾을 수 없습니다."),
            405: _("허용되지 않는 요청 방식입니다."),
            413: _("파일이 너무 큽니다."),
        }
        message = messages.get(err.code or 500, err.description or "")
        if wants_json():
            return jsonify({"error": {"code": err.name.replace(" ", ""), "message": message}}), err.code
        return render_template("error.html", status=err.code, message=message), err.code
