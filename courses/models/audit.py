"""Who read or exported which students' records, when and from where (students are minors)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, utcnow
from courses.models.people import User


class AccessAction(enum.StrEnum):
    """What was done with students' records (and with people's accounts, by their admins)."""

    attendance_viewed = "attendance_viewed"
    attendance_exported = "attendance_exported"
    enrolment_viewed = "enrolment_viewed"
    enrolment_report_viewed = "enrolment_report_viewed"
    enrolment_report_exported = "enrolment_report_exported"
    roster_imported = "roster_imported"
    audit_log_exported = "audit_log_exported"
    progress_viewed = "progress_viewed"
    progress_exported = "progress_exported"
    xapi_exported = "xapi_exported"
    completion_viewed = "completion_viewed"
    completion_exported = "completion_exported"
    completion_confirmed = "completion_confirmed"
    completion_revoked = "completion_revoked"
    transcript_viewed = "transcript_viewed"
    transcript_exported = "transcript_exported"
    dashboard_viewed = "dashboard_viewed"
    dashboard_exported = "dashboard_exported"
    survey_results_viewed = "survey_results_viewed"
    survey_results_exported = "survey_results_exported"
    people_listed = "people_listed"
    person_viewed = "person_viewed"
    person_edited = "person_edited"
    student_moved = "student_moved"
    parent_linked = "parent_linked"
    parent_unlinked = "parent_unlinked"
    password_reset = "password_reset"  # a person chose a new password by an e-mailed link


class AccessLog(Base):
    """One read or export of students' records."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    action: Mapped[AccessAction] = mapped_column(Enum(AccessAction, native_enum=False, length=40))
    subject_type: Mapped[str] = mapped_column(String(40))  # course, live_session, report, roster
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")

    actor: Mapped[User] = relationship()
