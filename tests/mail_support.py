"""A real SMTP server on loopback for the tests (aiosmtpd), and the two jobs a test runs by hand: delivering
what the outbox holds, and the class-start reminder scan.

    smtp_server (fixture, tests/conftest.py) → SmtpSink: its `.messages` are the parsed mails (email.message
    .EmailMessage, UTF-8 decoded by `body(msg)`), `.to(address)` those to one person, `.clear()` forgets them;
    `.wait_for(n)` and `.wait_until(match)` wait for mail sent by another process or thread (the browser
    tests' server, whose session-wide sink is the `mail_sink` fixture in tests/browser/conftest.py).
    run_delivery_job(app) → what a `deliver` job (and the worker's sweep) does: send the outbox, now.
    run_reminder_scan(app, now=…) → what the worker's sweep and `flask send-reminders` do: notify due lessons.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Collect:
    """aiosmtpd handler: keep every message, with its envelope; refuse recipients in `refuse`."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd's Controller on 127.0.0.1 and a free port, collecting what it is sent."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _Collect()
        # SMTPUTF8 on, 8BITMIME: what a real server offers; a Korean display name travels encoded either way
        self._controller = Controller(self._handler, hostname=self.host, port=self.port, enable_SMTPUTF8=True)

    def start(self) -> SmtpSink:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop listening (again: nothing)."""
        if getattr(self, "_running", False):
            self._controller.stop()
            self._running = False

    @property
    def messages(self) -> list[EmailMessage]:
        """The mails received so far, oldest first."""
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TOs) of each mail."""
        with self._handler.lock:
            return list(self._handler.envelopes)

    def refuse(self, address: str) -> None:
        """Answer 550 to this recipient from now on."""
        self._handler.refuse.add(address)

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.messages.clear()
            self._handler.envelopes.clear()

    def to(self, address: str) -> list[EmailMessage]:
        """The mails sent to one address."""
        return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[EmailMessage]:
        """Wait until at least `count` mails arrived (mail sent by another process or thread); all of them."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages

    def wait_until(
        self, match: Callable[[EmailMessage], bool], timeout_s: float = 15.0
    ) -> EmailMessage | None:
        """Wait for a mail that `match` accepts (sent by another process or thread); it, or None."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [m for m in self.messages if match(m)]
            if found or time.monotonic() >= deadline:
                return found[-1] if found else None
            time.sleep(0.05)


def body(message: EmailMessage) -> str:
    """A mail's text, decoded (the wire's CRLF line ends as \n)."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def run_delivery_job(app: Any) -> Any:
    """Run the `deliver` job(s) the requests announced (and the sweep's delivery), as the worker would:
    outside any request, in an app context. Returns the DeliveryReport."""
    from app.delivery import run_delivery
    from app.extensions import dbs

    app.extensions["jobs"].drain_jobs("deliver")
    with app.app_context():
        return run_delivery(dbs())


def run_reminder_scan(app: Any, *, now: datetime | None = None) -> int:
    """The periodic reminder scan (the worker's sweep, `flask send-reminders`); how many reminders."""
    from app.delivery import send_reminders
    from app.extensions import dbs

    with app.app_context():
        return send_reminders(dbs(), now=now)
