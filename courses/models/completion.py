"""Confirmed completion: what a school confirmed for its students of a course, locked once written.

A confirmation is the school's act; its records are the credit hours (수업시수) each student was granted.
Neither is ever edited: un-confirming marks the confirmation revoked (with who, when and why) and keeps it and
its records as history, and a new confirmation writes new records. ``courses.completion`` is the only
writer; the guard below refuses any other change at flush time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event, false, inspect, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from courses.db import Base, utcnow
from courses.models.course import Course
from courses.models.org import Organisation
from courses.models.people import User


class CompletionConfirmation(Base):
    """One school's confirmation of completion for its students of one course."""

    __tablename__ = "completion_confirmation"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    confirmed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The rules and lessons as they were when confirmed (thresholds, required/held lessons, their hours).
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    students: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    hours_granted: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))

    course: Mapped[Course] = relationship()
    school: Mapped[Organisation] = relationship()
    confirmed_by: Mapped[User] = relationship(foreign_keys=[confirmed_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    __table_args__ = (
        # At most one standing confirmation per course and school: a second one is refused by the database too.
        Index(
            "uq_completion_confirmation_active",
            "course_id",
            "school_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class CompletionRecord(Base):
    """One student's confirmed result of one course: completed or not, and the credit hours granted."""

    __tablename__ = "completion_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(
        ForeignKey("completion_confirmation.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    student_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("school_class.id", ondelete="SET NULL"))
    class_label: Mapped[str] = mapped_column(String(40), default="")
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"))
    school_year: Mapped[int]
    completed: Mapped[bool]
    lessons_done: Mapped[int]
    lessons_required: Mapped[int]
    hours: Mapped[int]  # credit hours granted (0 unless completed)
    # Per lesson id: the student's percentage (watched or attended) when confirmed.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    revoked: Mapped[bool] = mapped_column(default=False, server_default=false())

    confirmation: Mapped[CompletionConfirmation] = relationship()
    student: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_completion_record_student_year", "student_id", "school_year"),
        Index("ix_completion_record_school_year", "school_id", "school_year"),
    )


class RecordLocked(RuntimeError):
    """A confirmed completion record was about to be changed in place."""


# What may change on a confirmation after it is written: only its revocation, once.
_REVOCATION = {"revoked_at", "revoked_by_id", "revoke_reason", "revoked_by"}


@event.listens_for(Session, "before_flush")
def _refuse_edits(session: Session, _ctx: object, _instances: object) -> None:
    """Confirmed records are history: no update or delete except a confirmation's one revocation."""
    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        changed = {a.key for a in state.attrs if a.history.has_changes()}
        if isinstance(obj, CompletionRecord) and changed - {"revoked"}:
            raise RecordLocked(f"completion record {obj.id} is locked ({', '.join(sorted(changed))})")
        if isinstance(obj, CompletionConfirmation):
            was_revoked = state.attrs.revoked_at.history.deleted not in ((), [None], (None,))
            if changed - _REVOCATION or was_revoked:
                raise RecordLocked(f"completion confirmation {obj.id} is locked")
    for obj in session.deleted:
        if isinstance(obj, CompletionRecord | CompletionConfirmation):
            raise RecordLocked(f"{type(obj).__name__} {obj.id} cannot be deleted")
