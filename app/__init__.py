"""The web application: `create_app()` builds it; nothing connects at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask


def create_app(env: str | None = None, **overrides: Any) -> Flask:
    """Build the Flask app for an environment (development, production, test) with overrides."""
    from app import auth, errors, headers, i18n, transactions
    from app.config import flask_settings, load_config
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate

    flask_only = {k: overrides.pop(k) for k in list(overrides) if k.startswith("RATELIMIT_")}
    settings = {**flask_settings(load_config(env, **overrides)), **flask_only}
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(settings)
    from app import input as request_input

    request_input.init_app(app)  # before any route is added: it replaces the <int:…> converter

    from courses.accounts import configure_hasher

    configure_hasher(settings["PASSWORD_HASHING"])

    from app.config import storage_settings
    from media.storage import storage_from_config

    app.extensions["storage"] = storage_from_config(storage_settings(settings))  # connects to nothing yet

    import courses.models  # noqa: F401  (every mapper registered before the first query)

    db.init_app(app)
    from app import api_tokens

    api_tokens.init_app(app)  # before CSRF and the limiter: a bearer request is known before they run
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: "Asia/Seoul")
    login_manager.init_app(app)
    auth.init_login(app, login_manager)
    i18n.init_app(app)
    errors.init_app(app)
    transactions.init_app(app)
    from app import delivery, jobs

    delivery.init_app(app)  # the channels (connecting to nothing) before the queue that runs deliveries
    jobs.init_app(app)
    headers.init_app(app)

    from app.blueprints import (
        account,
        admin,
        api,
        calendar,
        completion,
        evaluation,
        fees,
        lessons,
        lessons_api,
        live,
        main,
        media_files,
        reports,
        roster,
    )
    from app.blueprints import courses as courses_bp
    from app.blueprints.auth import bp as auth_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(courses_bp.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(account.bp)
    assert lessons_api.bp is api.bp  # its routes hang on the one /api/v1 blueprint
    app.register_blueprint(api.bp)
    app.register_blueprint(lessons.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(completion.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(roster.bp)
    app.register_blueprint(evaluation.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(fees.bp)
    app.register_blueprint(live.webhook_bp)
    app.register_blueprint(media_files.bp)
    csrf.exempt(live.webhook_bp)  # the SFU signs its webhooks with HMAC instead
    csrf.exempt(media_files.put_part)  # an upload part's signed URL is its credential

    from app import cli

    cli.init_app(app)
    return app


def _migrations_dir() -> Path:

    return Path(__file__).resolve().parent.parent / "migrations"
