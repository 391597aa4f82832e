"""Instructor fees (강사료) and points: the office's rate table, monthly statements and their lines.

A rate change is a new ``FeeRate`` row, never an edit: the rate for a lesson is the latest row of its
instructor type valid on the day it was delivered. A ``FeeStatement`` is one instructor's month; its lines
copy the rate they were paid at, so a later rate change leaves an approved statement as it was. Once
approved, a statement and its lines are history: a correction is a new line with a reason, never an edit.
``courses.fees`` is the only writer; the guard below refuses any other change at flush time.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from courses.db import Base, utcnow
from courses.models.course import Course, InstructorMode, Lesson
from courses.models.people import User


class FeeRate(Base):
    """One row of an office's rate table: what an hour (차시) of one instructor type pays from a date."""

    __tablename__ = "fee_rate"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    instructor_type: Mapped[InstructorMode] = mapped_column(
        Enum(InstructorMode, native_enum=False, length=20)
    )
    rate_per_hour: Mapped[int]  # won
    points_per_hour: Mapped[int]
    valid_from: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_fee_rate_office_type_from", "office_id", "instructor_type", "valid_from"),
        CheckConstraint("rate_per_hour >= 0 AND points_per_hour >= 0", name="non_negative"),
    )


class StatementStatus(enum.StrEnum):
    draft = "draft"
    approved = "approved"


class FeeLineKind(enum.StrEnum):
    live = "live"  # a live class held (from the SFU's records)
    recorded = "recorded"  # a recorded lesson published
    correction = "correction"  # added after approval, with a reason


class FeeStatement(Base):
    """One instructor's fees for one month, drafted from what was delivered, then approved by the office."""

    __tablename__ = "fee_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    instructor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    status: Mapped[StatementStatus] = mapped_column(
        Enum(StatementStatus, native_enum=False, length=20), default=StatementStatus.draft
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None]

    instructor: Mapped[User] = relationship(foreign_keys=[instructor_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    lines: Mapped[list[FeeLine]] = relationship(
        back_populates="statement", cascade="all, delete-orphan", order_by="FeeLine.id"
    )

    __table_args__ = (
        UniqueConstraint("instructor_id", "month"),
        Index("ix_fee_statement_office_month", "office_id", "month"),
    )


class FeeLine(Base):
    """One delivered lesson (or one correction) of a statement, with the rate it was paid at."""

    __tablename__ = "fee_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("fee_statement.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id", ondelete="SET NULL"))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id", ondelete="SET NULL"))
    kind: Mapped[FeeLineKind] = mapped_column(Enum(FeeLineKind, native_enum=False, length=20))
    delivered_at: Mapped[datetime | None]  # when it happened (corrections: none)
    description: Mapped[str] = mapped_column(String(300), default="")
    minutes: Mapped[int | None]  # live only: the minutes really held
    hours: Mapped[int]  # 차시 paid (a correction may be negative)
    rate: Mapped[int]  # won per hour
    points_per_hour: Mapped[int] = mapped_column(default=0)
    # BIGINT: hours × rate can pass 2³¹ won (200 hours at the highest rate is already close).
    amount: Mapped[int] = mapped_column(BigInteger)  # won (a correction may be negative)
    points: Mapped[int] = mapped_column(BigInteger)
    fee_rate_id: Mapped[int | None] = mapped_column(ForeignKey("fee_rate.id"))  # None: no rate was set
    reason: Mapped[str | None] = mapped_column(String(500))  # corrections only
    corrects_id: Mapped[int | None] = mapped_column(
        ForeignKey("fee_line.id")
    )  # the line a correction is about
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    statement: Mapped[FeeStatement] = relationship(back_populates="lines")
    course: Mapped[Course | None] = relationship()
    lesson: Mapped[Lesson | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])


class FeeLocked(RuntimeError):
    """An approved statement, its lines, or a rate row was about to be changed in place."""


class _Approved:
    """Per flush: whether a statement is approved, in memory or in the database (what was committed).

    The database is asked too because an expired or never-loaded status has no history to read: setting it
    back to draft would otherwise look like a fresh value."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.stored: dict[int, bool] = {}

    def __call__(self, statement: FeeStatement | None, statement_id: int | None = None) -> bool:
        if statement is not None:
            if statement.__dict__.get("status") == StatementStatus.approved:
                return True
            statement_id = statement.id if statement.id is not None else statement_id
        if statement_id is None:
            return False
        if statement_id not in self.stored:
            status = self.session.scalar(select(FeeStatement.status).where(FeeStatement.id == statement_id))
            self.stored[statement_id] = status == StatementStatus.approved
        return self.stored[statement_id]


def _committed_statement_id(line: FeeLine) -> int | None:
    """The statement a line belonged to when loaded (a line moved to another statement is still locked)."""
    history = inspect(line).attrs.statement_id.history
    before = [*history.unchanged, *history.deleted]
    return before[0] if before else line.statement_id


@event.listens_for(Session, "before_flush")
def _refuse_fee_edits(session: Session, _ctx: object, _instances: object) -> None:
    """Rates are never edited; approved statements and their lines are never edited or deleted."""
    approved = _Approved(session)
    with session.no_autoflush:
        for obj in session.dirty:
            if not session.is_modified(obj, include_collections=False):
                continue
            if isinstance(obj, FeeRate):
                raise FeeLocked(f"fee rate {obj.id} cannot be changed: add a new rate")
            if isinstance(obj, FeeStatement) and approved(None, obj.id):
                raise FeeLocked(f"fee statement {obj.id} is approved")
            if isinstance(obj, FeeLine) and (
                approved(None, _committed_statement_id(obj)) or approved(obj.statement, obj.statement_id)
            ):
                raise FeeLocked(f"fee line {obj.id} of an approved statement is locked")
        for obj in session.new:
            if (
                isinstance(obj, FeeLine)
                and obj.kind != FeeLineKind.correction
                and approved(obj.statement, obj.statement_id)
            ):
                raise FeeLocked("only corrections may be added to an approved statement")
        for obj in session.deleted:
            if isinstance(obj, FeeRate):
                raise FeeLocked(f"fee rate {obj.id} cannot be deleted")
            if isinstance(obj, FeeStatement) and approved(obj):
                raise FeeLocked(f"fee statement {obj.id} is approved")
            if isinstance(obj, FeeLine) and approved(None, _committed_statement_id(obj)):
                raise FeeLocked(f"fee line {obj.id} of an approved statement is locked")
