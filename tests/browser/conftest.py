"""Browser end-to-end tests: the real app as its own server process, driven by headless Debian Chromium.

One server (migrated with `flask db upgrade`, seeded with `flask seed-demo`) and one browser per backend per
test session; every test gets fresh browser contexts. SQLite always; PostgreSQL too when LMS_TEST_POSTGRES_URL
is set. Only loopback is ever contacted: the server listens on 127.0.0.1 and Chromium runs with its
background networking switched off.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import DESKTOP, ROOT, login, set_locale, type_date
from tests.mail_support import SmtpSink

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Live classes: a synthetic camera and microphone. Not --use-fake-ui-for-media-stream: it would allow every
    # page to use them, while Playwright's per-context permissions let a test refuse them too.
    "--use-fake-device-for-media-stream",
]
SECRET_KEY = "browser-tests-secret-key-0123456789abcdefghijklmnop"
SFU_SECRET = "browser-tests-sfu-secret-0123456789abcdefghijkl"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("LMS_TEST_POSTGRES_URL") else [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here `browser`, run them after all others; skip them (with the reason) when Debian's chromium is missing.

    The page-by-page accessibility matrix (language × viewport) checks templates, which do not depend on the
    database, so on PostgreSQL only its Korean desktop column runs (every page still renders from PostgreSQL);
    IEUM_BROWSER_FULL_MATRIX=1 runs all of it there too. This keeps the suite within a few minutes on 2 cores.
    """
    here = Path(__file__).parent
    skip = None
    if not CHROMIUM.exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    full = os.environ.get("IEUM_BROWSER_FULL_MATRIX") == "1"
    others, keep, dropped = [], [], []
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            others.append(item)
            continue
        item.add_marker(pytest.mark.browser)
        if skip is not None:
            item.add_marker(skip)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            not full
            and params.get("live_server", "sqlite") != "sqlite"
            and (params.get("locale", "ko"), params.get("viewport", "desktop")) != ("ko", "desktop")
        ):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # Browser tests run last: Playwright's sync API keeps an event loop running in the main thread for
    # as long as the session-wide browser lives, and pytest-asyncio's tests cannot start one beside it.
    items[:] = others + keep


# --- the server -------------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    """A running app: its base URL, the database it uses and the backend's name; where its pages look for the
    SFU (started only by the tests that need one, see test_live_class.py)."""

    url: str
    database_url: str
    backend: str
    log: Path
    sfu_port: int
    storage_dir: Path  # LMS_STORAGE_DIR: where the app (and an SFU started beside it) keep media
    env: dict[str, str]  # the server's environment: `flask_command` runs CLI commands on its database


def flask_command(server: LiveServer, *args: str) -> str:
    """Run a `flask` command against the live server's database and settings (e.g. "send-reminders", which
    also delivers, or "deliver-notifications"); its output."""
    return _flask(*args, env=server.env)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(
    database_url: str, workdir: Path, sfu_port: int, *, port: int, smtp_port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMS_", "FLASK_"))}
    env.update(
        FLASK_APP="app:create_app",
        LMS_ENV="development",
        LMS_DATABASE_URL=database_url,
        LMS_SECRET_KEY=SECRET_KEY,
        LMS_SFU_SECRET=SFU_SECRET,
        LMS_SFU_PUBLIC_URL=f"ws://127.0.0.1:{sfu_port}/ws",
        LMS_STORAGE_DIR=str(workdir / "storage"),
        LMS_LOGIN_RATE_LIMIT="1000 per minute",
        LMS_PASSWORD_HASHING="test",
        LMS_DEMO_VIDEO_SECONDS="24",  # the demo lecture test_lecture_player.py plays (processed at start-up)  # the cheap argon2id profile (refused in production): fast logins
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        # Mail goes to the session's SMTP server (the mail_sink fixture); links in it point at this server.
        LMS_SMTP_HOST="127.0.0.1",
        LMS_SMTP_PORT=str(smtp_port),
        LMS_SMTP_STARTTLS="false",
        LMS_MAIL_FROM="이음 <noreply@ieum.example>",
        LMS_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    return env


def _flask(*args: str, env: dict[str, str]) -> str:
    flask_bin = Path(sys.executable).with_name("flask")
    cmd = [str(flask_bin)] if flask_bin.exists() else [sys.executable, "-m", "flask"]
    done = subprocess.run([*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as r:  # noqa: S310 (loopback only)
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app server did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def _pg_browser_database() -> Iterator[str]:
    """A fresh PostgreSQL database `ieum_browser_<random>` for the app server, dropped afterwards; its URL."""
    from tests.conftest import fresh_pg_database

    with fresh_pg_database("ieum_browser") as url:
        yield url


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[SmtpSink]:
    """The SMTP server (aiosmtpd on 127.0.0.1) every live server sends its mail to: `.wait_for(n)`, `.to(addr)`,
    `.clear()` (tests.mail_support.SmtpSink). Mail leaves the server from its own thread, after the request."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mail_sink: SmtpSink
) -> Iterator[LiveServer]:
    """The app, migrated and seeded with the demo data, serving on a free loopback port."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"browser-{backend}")
    if backend == "postgresql":
        database_url = str(request.getfixturevalue("_pg_browser_database"))
    else:
        database_url = f"sqlite:///{workdir / 'ieum.db'}"
    sfu_port = _free_port()
    port = _free_port()
    env = _server_env(database_url, workdir, sfu_port, port=port, smtp_port=mail_sink.port)
    _flask("db", "upgrade", env=env)
    _flask("seed-demo", env=env)
    log = workdir / "server.log"
    flask_bin = Path(sys.executable).with_name("flask")
    cmd = [str(flask_bin)] if flask_bin.exists() else [sys.executable, "-m", "flask"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *cmd,
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-reload",
                "--no-debugger",
                "--with-threads",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield LiveServer(
            url=url,
            database_url=database_url,
            backend=backend,
            log=log,
            sfu_port=sfu_port,
            storage_dir=workdir / "storage",
            env=env,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def new_context(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """new_context(viewport=…) → a fresh browser context on the live server; all are closed after the test."""
    made: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **kwargs: Any) -> Any:
        ctx = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or DESKTOP,
            locale="ko-KR",
            timezone_id="Asia/Seoul",
            **kwargs,
        )
        ctx.set_default_timeout(10_000)
        ctx.route("**/*", _loopback_only)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def _loopback_only(route: Any) -> None:
    """Abort any request the page makes to somewhere other than the test server's host."""
    from urllib.parse import urlsplit

    host = urlsplit(route.request.url).hostname or ""
    if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


@pytest.fixture()
def page(new_context: Callable[..., Any]) -> Any:
    """A page in a fresh desktop-sized context."""
    return new_context().new_page()


@contextmanager
def log_on_failure(request: pytest.FixtureRequest, log: Path, title: str) -> Iterator[None]:
    """Attach what `log` gained during the test to its report, if the test failed."""
    start = log.stat().st_size
    yield
    report = getattr(request.node, "_browser_call_report", None)
    if report is not None and report.failed:
        with log.open("rb") as f:
            f.seek(start)
            report.sections.append((title, f.read().decode("utf-8", "replace")[-20_000:]))


@pytest.fixture(autouse=True)
def _server_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Attach what the server logged during a failing test (tracebacks included) to its report."""
    if "live_server" not in request.fixturenames:
        yield
        return
    server: LiveServer = request.getfixturevalue("live_server")
    with log_on_failure(request, server.log, "server log"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when == "call":
        item._browser_call_report = outcome.get_result()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def _storage_states(live_server: LiveServer) -> dict[str, Any]:
    """Per backend: each demo user's cookies after one login through the form."""
    return {}


@pytest.fixture()
def page_as(new_context: Callable[..., Any], _storage_states: dict[str, Any]) -> Callable[..., Any]:
    """page_as(username | None, viewport=…, locale=…) → a page in a fresh context, logged in (or not), on the
    home page (or the login page), with the interface in that language (switched by the header's button)."""

    def make(username: str | None, *, viewport: dict[str, int] | None = None, locale: str = "ko") -> Any:
        if username is not None and username not in _storage_states:
            first = new_context().new_page()
            login(first, username)
            _storage_states[username] = first.context.storage_state()
            first.context.close()
        ctx = new_context(
            viewport=viewport, storage_state=_storage_states.get(username) if username else None
        )
        page = ctx.new_page()
        page.goto("/" if username else "/login")
        set_locale(page, locale)
        return page

    return make


@pytest.fixture(scope="session")
def date_order(browser: Any) -> str:
    """The order in which this Chromium's <input type=date> takes its segments ('mdy', 'ymd' or 'dmy')."""
    page = browser.new_page()
    try:
        page.set_content("<input type=date id=d>")
        for order in ("mdy", "ymd", "dmy"):
            page.eval_on_selector("#d", "e => { e.value = ''; }")
            page.focus("#d")
            type_date(page, order, "2031-12-24")
            if page.eval_on_selector("#d", "e => e.value") == "2031-12-24":
                return order
        raise RuntimeError("could not work out how to type a date into this Chromium's date field")
    finally:
        page.close()
