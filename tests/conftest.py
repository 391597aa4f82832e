"""One app and one schema per backend per test session; every test runs in a transaction rolled back after.

Database tests run on SQLite always and on PostgreSQL too when LMS_TEST_POSTGRES_URL is set (CI sets it).
Each run creates its own PostgreSQL database, so concurrent runs on one server do not collide.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from courses.db import Base


def pytest_configure(config: pytest.Config) -> None:
    from courses.accounts import configure_hasher

    configure_hasher("test")  # cheap argon2id for fixtures; production uses the OWASP profile


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("LMS_TEST_POSTGRES_URL") else [])


def _pg_url() -> str:
    url = os.environ["LMS_TEST_POSTGRES_URL"]
    return (
        url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    )


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new database `<prefix>_<random>` on LMS_TEST_POSTGRES_URL's server, dropped on exit; its URL."""
    admin_url = make_url(_pg_url())
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped at the end; its URL."""
    with fresh_pg_database("ieum_test") as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a migrated-by-metadata database for one backend."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    import courses.models  # noqa: F401

    eng = create_engine(database_url)
    if eng.dialect.name == "sqlite":
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself.
        @event.listens_for(eng, "connect")
        def _no_pysqlite_tx(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None

        @event.listens_for(eng, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN")

    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; commits become savepoints."""
    conn = engine.connect()
    trans = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        trans.rollback()
        conn.close()


@pytest.fixture()
def world(session: Session):  # type: ignore[no-untyped-def]
    from tests.factories import build_world

    return build_world(session)


@pytest.fixture(scope="session")
def app(database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from app import create_app

    storage_dir = tmp_path_factory.mktemp("storage")
    # Login throttling uses this machine's Redis when CI names it; a fresh key prefix per run.
    flask_app = create_app(
        "test",
        DATABASE_URL=database_url,
        STORAGE_DIR=str(storage_dir),
        REDIS_URL=os.environ.get("LMS_TEST_REDIS_URL"),
        RATELIMIT_STORAGE_URI=os.environ.get("LMS_TEST_REDIS_URL") or "memory://",
        RATELIMIT_KEY_PREFIX=f"ieum-test-{uuid.uuid4().hex[:8]}",
    )
    return flask_app


@pytest.fixture()
def db_session(app, engine: Engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """Bind the app's db.session to one rolled-back transaction for this test."""
    from app.extensions import db

    conn = engine.connect()
    trans = conn.begin()
    original = db.session
    factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    db.session = scoped_session(factory)  # type: ignore[method-assign]
    try:
        yield db.session  # type: ignore[misc]
    finally:
        db.session.remove()
        db.session = original  # type: ignore[method-assign]
        trans.rollback()
        conn.close()


@pytest.fixture()
def web_world(db_session: Session):  # type: ignore[no-untyped-def]
    from tests.factories import build_world

    world = build_world(db_session)
    # Requests end with db.session.remove(), which rolls back anything uncommitted: commit (to a savepoint).
    db_session.commit()
    return world


@pytest.fixture()
def client(app, db_session):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture()
def login(app, db_session):  # type: ignore[no-untyped-def]
    """login(user) → a test client logged in as that user (CSRF on: use client.csrf() for the token)."""
    from tests.factories import PASSWORD

    def _login(user):  # type: ignore[no-untyped-def]
        c = app.test_client()
        c.get("/login")
        token = _csrf_from(c)
        r = c.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302, r.data[:500]
        c.csrf = lambda: _csrf_from(c)  # type: ignore[attr-defined]
        return c

    return _login


def _csrf_from(client) -> str:  # type: ignore[no-untyped-def]
    import re

    page = client.get("/themes") if _logged_in(client) else client.get("/login")
    m = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert m, "no CSRF token on page"
    return m.group(1).decode()


def _logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    with client.session_transaction() as s:
        return "_user_id" in s


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection outside loopback."""
    real = socket.socket.connect

    def guarded(self, address):  # type: ignore[no-untyped-def]
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")
        ):
            raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture()
def smtp_server(app, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that the app's e-mail channel sends to during this test: a
    tests.mail_support.SmtpSink (`.messages`). Opening SMTP inside a web request fails the test."""
    import smtplib

    import flask

    from app.delivery import use_channels
    from courses.delivery.channels import SmtpChannel, SmtpSettings
    from courses.models import ChannelKind
    from tests.mail_support import SmtpSink

    real_connect = smtplib.SMTP.connect

    def connect(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flask.has_request_context():
            raise AssertionError("SMTP opened inside a web request: mail must leave from the worker")
        return real_connect(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "connect", connect)
    sink = SmtpSink().start()
    channel = SmtpChannel(
        SmtpSettings(host=sink.host, port=sink.port, starttls=False, mail_from="이음 <noreply@ieum.test>")
    )
    previous = use_channels(app, {**app.extensions.get("delivery_channels", {}), ChannelKind.email: channel})
    try:
        yield sink
    finally:
        use_channels(app, previous)
        sink.stop()


@pytest.fixture()
def channels_on():  # type: ignore[no-untyped-def]
    """Domain tests without an app: the outbox writes rows for e-mail and SMS as if both were configured."""
    from courses.delivery import outbox
    from courses.models import ChannelKind

    before = outbox.available_channels()
    outbox.configure({ChannelKind.email, ChannelKind.sms})
    yield
    outbox.configure(before)
