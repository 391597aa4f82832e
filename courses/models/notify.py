"""Notices beyond the app: what each person wants where, the outbox the worker sends from, and the markers that
make each class-start reminder go out once."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from courses.db import Base, utcnow


class NoticeCategory(enum.StrEnum):
    """What a notification is about; people choose per category where they receive it."""

    enrolment = "enrolment"  # enrolled in a course
    reminder = "reminder"  # a live class starts in 10 minutes, or now
    reschedule = "reschedule"  # a lesson moved
    decision = "decision"  # a request approved, rejected or cancelled
    completion = "completion"  # completion confirmed
    other = "other"  # work notices: requests to approve, instructor assigned, recordings expiring


class ChannelKind(enum.StrEnum):
    """Where a notice goes besides the app (in-app notices always exist)."""

    email = "email"
    sms = "sms"  # the school messaging service (SMS / 알림톡) through the operator's hook


class NotificationPreference(Base):
    """One person's choice for one category; without a row the defaults hold (e-mail on, SMS off)."""

    __tablename__ = "notification_preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    category: Mapped[NoticeCategory] = mapped_column(Enum(NoticeCategory, native_enum=False, length=20))
    email: Mapped[bool] = mapped_column(default=True, server_default=true())
    sms: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (UniqueConstraint("user_id", "category"),)


class OutboxStatus(enum.StrEnum):
    pending = "pending"  # waiting (again, after a failed attempt: from not_before on)
    sending = "sending"  # claimed by a worker until lease_until
    sent = "sent"
    failed = "failed"  # attempts spent, or refused for good (last_error says why)
    cancelled = "cancelled"  # nothing to send any more (channel switched off, reset link expired)


class OutboxMessage(Base):
    """One message to send on one channel: written with its notification (or reset request) in the same
    transaction, sent later by the worker, never by a web request."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    channel: Mapped[ChannelKind] = mapped_column(Enum(ChannelKind, native_enum=False, length=10))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"))
    password_reset_id: Mapped[int | None] = mapped_column(ForeignKey("password_reset.id", ondelete="CASCADE"))
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=20), default=OutboxStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        UniqueConstraint("password_reset_id", "channel"),
        Index("ix_outbox_message_status_not_before", "status", "not_before"),
    )


class ReminderKind(enum.StrEnum):
    soon = "soon"  # 10 minutes before
    start = "start"  # when it starts


class LessonReminder(Base):
    """A class-start reminder that went out: one per lesson, kind and scheduled start (a lesson moved to
    another time gets its reminders again). The unique key is what stops two workers sending it twice."""

    __tablename__ = "lesson_reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"))
    kind: Mapped[ReminderKind] = mapped_column(Enum(ReminderKind, native_enum=False, length=10))
    starts_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("lesson_id", "kind", "starts_at"),)
