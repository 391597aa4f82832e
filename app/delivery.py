"""Sending what the outbox holds, outside any web request: the channels built at start-up from LMS_SMTP_* and
LMS_SMS_HOOK, each message written in its recipient's language, and the loops that the RQ job, the embedded
run's thread, the worker's sweep, the CLI and the tests run (each commits its own steps, as a job does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.i18n import LOCALES, translate
from courses import password_reset, reminders
from courses.db import utcnow
from courses.delivery import outbox
from courses.delivery.channels import (
    Channel,
    DeliveryFailed,
    Message,
    Recipient,
    SmsChannel,
    SmtpChannel,
    SmtpSettings,
    load_hook,
)
from courses.models import ChannelKind, Notification, OutboxMessage, PasswordReset, User

log = logging.getLogger("app.delivery")
SEOUL = ZoneInfo("Asia/Seoul")
BATCH = 200  # rows per run; the next run (or the sweep) takes the rest
SMS_BODY_MAX = 120


def build_channels(config: dict[str, Any]) -> dict[ChannelKind, Channel]:
    """The configured channels: e-mail when LMS_SMTP_HOST is set, SMS when LMS_SMS_HOOK names a hook."""
    channels: dict[ChannelKind, Channel] = {}
    if config.get("SMTP_HOST"):
        channels[ChannelKind.email] = SmtpChannel(
            SmtpSettings(
                host=config["SMTP_HOST"],
                port=config["SMTP_PORT"],
                user=config.get("SMTP_USER") or None,
                password=config.get("SMTP_PASSWORD") or None,
                starttls=config["SMTP_STARTTLS"],
                mail_from=config["MAIL_FROM"],
            )
        )
    if config.get("SMS_HOOK"):
        channels[ChannelKind.sms] = SmsChannel(load_hook(config["SMS_HOOK"]))
    return channels


def init_app(app: Flask) -> None:
    """Build the channels (connecting to nothing) and tell the outbox which ones exist."""
    use_channels(app, build_channels(app.config))


def use_channels(app: Flask, channels: dict[ChannelKind, Channel]) -> dict[ChannelKind, Channel]:
    """Replace the app's channels (tests point e-mail at their SMTP server); returns the previous ones."""
    previous: dict[ChannelKind, Channel] = app.extensions.get("delivery_channels", {})
    app.extensions["delivery_channels"] = dict(channels)
    outbox.configure(channels)
    return previous


def channels() -> dict[ChannelKind, Channel]:
    """This app's channels."""
    found: dict[ChannelKind, Channel] = current_app.extensions.get("delivery_channels", {})
    return found


@dataclass
class DeliveryReport:
    """What one run did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def _absolute(link: str | None) -> str | None:
    if not link:
        return None
    if link.startswith(("http://", "https://")):
        return link
    base = str(current_app.config["PUBLIC_URL"]).rstrip("/")
    return base + "/" + link.lstrip("/")


def _recipient(user: User) -> Recipient:
    return Recipient(
        user_id=user.id,
        username=user.username,
        name=user.name,
        role=str(user.role),
        email=user.email,
        sourced_id=user.sourced_id,
    )


def _notice(row: OutboxMessage, user: User, notice: Notification) -> Message:
    title = translate(notice.title)
    link = _absolute(notice.link)
    subject = _("[이음] %(title)s", title=title)
    if row.channel == ChannelKind.sms:
        body = notice.body if len(notice.body) <= SMS_BODY_MAX else notice.body[: SMS_BODY_MAX - 1] + "…"
        text = " ".join(p for p in (subject, body, link or "") if p)
        return Message(_recipient(user), subject, text, link)
    lines = [_("%(name)s님, 이음 알림입니다.", name=user.name), "", title]
    if notice.body:
        lines.append(notice.body)
    if link:
        lines += ["", _("바로 가기: %(link)s", link=link)]
    lines += [
        "",
        "--",
        _(
            "알림을 어디로 받을지는 「내 계정 › 알림 받기」에서 바꿀 수 있습니다: %(link)s",
            link=_absolute("/account#notify-h"),
        ),
        _("이 메일은 발신 전용입니다."),
    ]
    return Message(_recipient(user), subject, "\n".join(lines) + "\n", link)


def _reset(session: Session, user: User, reset: PasswordReset, now: datetime) -> Message | None:
    token = password_reset.issue_token(session, reset, now=now)
    if token is None:
        return None
    link = _absolute(f"/password/reset/{token}")
    until = f"{reset.expires_at.astimezone(SEOUL):%Y-%m-%d %H:%M}"
    subject = _("[이음] %(title)s", title=_("비밀번호 재설정 안내"))
    text = "\n".join(
        [
            _(
                "%(name)s님(아이디 %(username)s), 비밀번호 재설정을 요청하셨습니다.",
                name=user.name,
                username=user.username,
            ),
            "",
            _(
                "아래 링크에서 %(until)s(한국 시각)까지 새 비밀번호를 정하세요. 링크는 한 번만 쓸 수 있습니다.",
                until=until,
            ),
            link or "",
            "",
            _("요청하지 않았다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다."),
            _("이 메일은 발신 전용입니다."),
        ]
    )
    return Message(_recipient(user), subject, text + "\n", link)


def compose(session: Session, row: OutboxMessage, *, now: datetime) -> Message | None:
    """The message for a claimed row, in its recipient's language; None when there is nothing to send any more
    (the account was disabled, the notification is gone, the reset link expired or was used)."""
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    locale = user.locale if user.locale in LOCALES else current_app.config["DEFAULT_LOCALE"]
    with force_locale(locale):
        if row.notification_id is not None:
            notice = session.get(Notification, row.notification_id)
            return None if notice is None else _notice(row, user, notice)
        if row.password_reset_id is not None:
            reset = session.get(PasswordReset, row.password_reset_id)
            return None if reset is None else _reset(session, user, reset, now)
    return None


def run_delivery(session: Session, *, now: datetime | None = None, limit: int = BATCH) -> DeliveryReport:
    """Send what is due: claim a row (commit), compose it (commit: a reset link's token hash is stored before
    the mail leaves), send it, record the outcome (commit). Needs an app context; never call it from a request."""
    cfg = current_app.config
    lease = timedelta(seconds=cfg["DELIVERY_LEASE_S"])
    max_attempts = cfg["DELIVERY_MAX_ATTEMPTS"]
    report = DeliveryReport()
    available = channels()
    if outbox.cancel_channel_off(session, available):
        session.commit()
    for row_id in outbox.due_ids(session, now=now or utcnow(), limit=limit):
        at = now or utcnow()
        row = outbox.claim(session, row_id, now=at, lease=lease, max_attempts=max_attempts)
        session.commit()
        if row is None:
            continue
        channel = available.get(row.channel)
        message = compose(session, row, now=at) if channel is not None else None
        if channel is None or message is None:
            outbox.record_cancelled(row, "channel not configured" if channel is None else "nothing to send")
            session.commit()
            report.cancelled += 1
            continue
        session.commit()
        try:
            channel.send(message)
        except DeliveryFailed as exc:
            again = outbox.record_failure(
                row, exc.reason, permanent=exc.permanent, now=now or utcnow(), max_attempts=max_attempts
            )
            report.errors.append(exc.reason)
            if again:
                report.retried += 1
            else:
                report.failed += 1
            log.warning(
                "outbox %s (%s): %s%s", row.id, row.channel, exc.reason, " — will retry" if again else ""
            )
        else:
            outbox.record_sent(row, now=now or utcnow())
            report.sent += 1
        session.commit()
    return report


def send_reminders(session: Session, *, now: datetime | None = None) -> int:
    """The reminder scan: notify what is due and commit; how many reminders (their mails go with delivery)."""
    n = reminders.send_due(session, now=now or utcnow())
    session.commit()
    return n


def tick(session: Session, *, now: datetime | None = None) -> tuple[int, DeliveryReport]:
    """One periodic round (the worker's sweep, the embedded thread): reminders, then whatever is due to send."""
    n = send_reminders(session, now=now)
    return n, run_delivery(session, now=now)
