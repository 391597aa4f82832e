"""Recorded lectures: a lesson's video from upload to HLS, and what each student really watched."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Enum, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, utcnow
from courses.models.course import Lesson
from courses.models.people import User


class VideoState(enum.StrEnum):
    uploading = "uploading"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Video(Base):
    """The video of a recorded lesson: its source object, its processing state and its HLS renditions.

    Every object key is built from the id (`videos/<id>/source`, `videos/<id>/hls/…`); a published class
    recording keeps its recording object as the source."""

    __tablename__ = "video"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"), unique=True)
    state: Mapped[VideoState] = mapped_column(
        Enum(VideoState, native_enum=False, length=20), default=VideoState.uploading
    )
    source_key: Mapped[str] = mapped_column(String(300))
    original_name: Mapped[str] = mapped_column(String(200), default="")  # shown to the teacher, never a key
    declared_size: Mapped[int] = mapped_column(BigInteger, default=0)
    size: Mapped[int | None] = mapped_column(BigInteger)
    upload_id: Mapped[str | None] = mapped_column(String(200))
    part_size: Mapped[int] = mapped_column(BigInteger, default=0)
    upload_started_at: Mapped[datetime | None]
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recording.id", ondelete="SET NULL"))
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None]
    height: Mapped[int | None]
    has_audio: Mapped[bool | None]
    renditions: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]
    captions_key: Mapped[str | None] = mapped_column(String(300))
    progress_pct: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(1000))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]

    lesson: Mapped[Lesson] = relationship()

    __table_args__ = (Index("ix_video_state_lease", "state", "lease_until"),)

    @property
    def hls_prefix(self) -> str:
        """Where the renditions live."""
        return f"videos/{self.id}/hls/"


class WatchProgress(Base):
    """One student's viewing of one lesson: the union of played intervals, and the credit clock."""

    __tablename__ = "watch_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    segments: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]  # [[start, end], …]
    watched_s: Mapped[float] = mapped_column(Float, default=0.0)
    last_position: Mapped[float] = mapped_column(Float, default=0.0)
    credit_tokens: Mapped[float] = mapped_column(Float, default=0.0)
    credit_at: Mapped[datetime | None]
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("lesson_id", "user_id"),)


class WatchSession(Base):
    """One player instance (a page load) sending beats; beats are idempotent by (session, seq)."""

    __tablename__ = "watch_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=-1)
    last_beat_at: Mapped[datetime | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        UniqueConstraint("key", "user_id"),
        Index("ix_watch_session_lesson_user", "lesson_id", "user_id"),
    )


class WatchEvent(Base):
    """An accepted beat, kept for the xAPI export (played, paused, seeked, completed …)."""

    __tablename__ = "watch_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    watch_session_id: Mapped[int] = mapped_column(
        ForeignKey("watch_session.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(20))
    segments: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]
    position: Mapped[float] = mapped_column(Float)
    rate: Mapped[float] = mapped_column(Float)
    credited_s: Mapped[float] = mapped_column(Float, default=0.0)
    seek_from: Mapped[float | None] = mapped_column(Float)

    session: Mapped[WatchSession] = relationship()
