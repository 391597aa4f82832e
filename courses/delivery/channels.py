"""How a message leaves the platform: one small interface, `Channel.send(message)`, with an SMTP e-mail
channel (standard library only) and a hook for the school messaging service (SMS / 알림톡) that operators plug
in as a dotted path to a callable `send(recipient, text)`; `log` is the built-in one for development."""

from __future__ import annotations

import importlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

log = logging.getLogger("courses.delivery")


@dataclass(frozen=True)
class Recipient:
    """Who a message is for. A messaging service finds the phone number from `sourced_id` (the school
    information system's id, as imported) or `username`; the platform keeps no phone numbers of minors."""

    user_id: int
    username: str
    name: str
    role: str
    email: str | None = None
    sourced_id: str | None = None


@dataclass(frozen=True)
class Message:
    """One message for one person on one channel, already in their language."""

    recipient: Recipient
    subject: str
    text: str
    link: str | None = None  # absolute URL, also inside `text`


class DeliveryFailed(Exception):
    """The channel could not send. `permanent`: retrying cannot help (address refused, no address)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    """Something that sends messages; raises DeliveryFailed when it cannot."""

    name: str

    def send(self, message: Message) -> None:
        """Send one message (blocking)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    starttls: bool = True  # port 465 is implicit TLS instead (SMTP over SSL)
    mail_from: str = "이음 <noreply@localhost>"
    timeout_s: float = 20.0


class SmtpChannel:
    """E-mail through an SMTP server (smtplib), a new connection per message, UTF-8 plain text."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def build(self, message: Message) -> EmailMessage:
        """The e-mail for a message (headers encoded by the `email` package: Korean names and subjects)."""
        to = message.recipient.email
        if not to or "@" not in to:
            raise DeliveryFailed("no e-mail address", permanent=True)
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.settings.mail_from
        local, _, domain = to.rpartition("@")
        mail["To"] = Address(display_name=message.recipient.name, username=local, domain=domain)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=_domain_of(self.settings.mail_from))
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notice
        mail.set_content(message.text, charset="utf-8")
        return mail

    def send(self, message: Message) -> None:
        """Connect, optionally STARTTLS and log in, send, quit."""
        mail = self.build(message)
        s = self.settings
        try:
            if s.port == 465:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.starttls and s.port != 465:
                    smtp.starttls(context=ssl.create_default_context())
                if s.user:
                    smtp.login(s.user, s.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
            # 5xx is the server's final answer about this message; 4xx and everything else may pass
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code} {detail}"[:300], permanent=exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc


def _domain_of(address: str) -> str:
    """The domain of a From address (for Message-IDs); 'localhost' when it has none."""
    addr = address.rsplit("<", 1)[-1].rstrip(">").strip()
    return addr.rpartition("@")[2] or "localhost"


SmsHook = Callable[[Recipient, str], None]


def log_sms(recipient: Recipient, text: str) -> None:
    """The development hook: write the text to the log instead of sending it."""
    log.info("SMS to %s (user %s): %s", recipient.username, recipient.user_id, text)


def load_hook(spec: str) -> SmsHook:
    """`log`, or a dotted path `package.module:function` (or `package.module.function`) to a callable."""
    if spec == "log":
        return log_sms
    module, sep, attr = spec.partition(":")
    if not sep:
        module, _, attr = spec.rpartition(".")
    if not module or not attr:
        raise ValueError(f"LMS_SMS_HOOK must be 'log' or a dotted path module:function, not {spec!r}")
    try:
        target = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"LMS_SMS_HOOK {spec!r} cannot be loaded: {exc}") from None
    if not callable(target):
        raise ValueError(f"LMS_SMS_HOOK {spec!r} is not callable")
    hook: SmsHook = target
    return hook


class SmsChannel:
    """The school messaging service: the operator's hook gets the recipient and a short text."""

    name = "sms"

    def __init__(self, hook: SmsHook) -> None:
        self.hook = hook

    def send(self, message: Message) -> None:
        """Call the hook; anything it raises is a failed (retried) delivery."""
        try:
            self.hook(message.recipient, message.text)
        except DeliveryFailed:
            raise
        except Exception as exc:  # the operator's code: whatever it raises is recorded, and retried
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
