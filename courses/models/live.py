"""Live sessions of a lesson, the SFU's events about them, attendance, chat and recordings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contracts.rooms import room_name
from courses.db import Base, utcnow
from courses.models.course import Course, Lesson
from courses.models.people import User


class LiveStatus(enum.StrEnum):
    scheduled = "scheduled"
    live = "live"
    ended = "ended"


class LiveSession(Base):
    """One live class: a lesson's scheduled time in an SFU room."""

    __tablename__ = "live_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"), unique=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    opens_minutes_before: Mapped[int] = mapped_column(default=10)
    status: Mapped[LiveStatus] = mapped_column(
        Enum(LiveStatus, native_enum=False, length=20), default=LiveStatus.scheduled
    )
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    course: Mapped[Course] = relationship()
    lesson: Mapped[Lesson] = relationship()

    @property
    def room(self) -> str:
        """The SFU room of this class."""
        return room_name(self.id)


class SfuEvent(Base):
    """A webhook event from the SFU, stored once by its id (webhooks are retried until acknowledged)."""

    __tablename__ = "sfu_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_session.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_sfu_event_session_user_at", "live_session_id", "user_id", "at"),)


class Attendance(Base):
    """Per session and person: derived from the SFU events, recomputed whenever one arrives."""

    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    live_session_id: Mapped[int] = mapped_column(ForeignKey("live_session.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    first_join_at: Mapped[datetime | None]
    last_leave_at: Mapped[datetime | None]
    present_seconds: Mapped[int] = mapped_column(default=0)
    stage_seconds: Mapped[int] = mapped_column(default=0)
    talk_seconds: Mapped[int] = mapped_column(default=0, server_default="0")  # speaking, from the audio level
    camera_seconds: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    hands_raised: Mapped[int] = mapped_column(default=0)
    joins: Mapped[int] = mapped_column(default=0)

    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("live_session_id", "user_id"),)


class ChatMessage(Base):
    """A chat message in a live session, kept with the session."""

    __tablename__ = "chat_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    live_session_id: Mapped[int] = mapped_column(
        ForeignKey("live_session.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]

    user: Mapped[User] = relationship()


class Recording(Base):
    """A live session's recording in object storage (the hand-over point to recorded lectures)."""

    __tablename__ = "recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    live_session_id: Mapped[int] = mapped_column(
        ForeignKey("live_session.id", ondelete="CASCADE"), index=True
    )
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(60))
    duration_s: Mapped[float]
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the course's teachers decided: None (not yet), published (a recorded lesson) or private.
    decision: Mapped[str | None] = mapped_column(String(20))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id", ondelete="SET NULL"))
    # Retention (courses.retention): when the course's teachers were told it will be removed, and when it was.
    retention_notice_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
