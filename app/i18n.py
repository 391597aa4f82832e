"""Korean first, English available: locale selection and template helpers."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import gettext
from flask_login import current_user

from courses import labels

LOCALES = ("ko", "en")


def select_locale() -> str:
    """?lang (API), the session's choice, the user's saved choice, Accept-Language (API only), then Korean.

    Only API callers are steered by Accept-Language: a browser set to English still gets the Korean
    pages until the person chooses English with the header button.
    """
    api = request.path.startswith("/api/")
    if api and request.args.get("lang") in LOCALES:
        return request.args["lang"]
    lang = session.get("lang")
    if lang in LOCALES:
        return lang  # type: ignore[no-any-return]
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale  # type: ignore[no-any-return]
    if api:
        best = request.accept_languages.best_match(LOCALES)
        if best:
            return best
    return current_app.config.get("DEFAULT_LOCALE", "ko")  # type: ignore[no-any-return]


def translate(message: str, params: dict[str, Any] | None = None) -> str:
    """Translate a domain msgid and fill its params (which may be msgids themselves)."""
    text = gettext(message)
    filled = {k: gettext(v) if isinstance(v, str) else v for k, v in (params or {}).items()}
    try:
        return str(text % filled)  # also turns a literal "%%" into "%"
    except (KeyError, TypeError, ValueError):
        return str(text)


def _current_locale() -> str:
    """The locale labels are made in: the request's; Korean outside a request (CLI, worker)."""
    return select_locale() if has_request_context() else "ko"


def _label_gettext(message: str) -> str:
    return gettext(message) if has_request_context() else message


def init_app(app: Flask) -> None:
    """Expose locale helpers to templates (tr is a global so imported macros see it too)."""
    app.jinja_env.globals["tr"] = translate
    labels.install(_label_gettext, _current_locale)

    def local_datetime(value: Any, pattern: str = "yyyy-MM-dd HH:mm") -> str:
        from flask_babel import format_datetime

        return format_datetime(value, pattern) if value else ""

    app.jinja_env.filters["datetime"] = local_datetime  # in Asia/Seoul, whatever the server's clock

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"current_locale": select_locale(), "request_path": request.path}
