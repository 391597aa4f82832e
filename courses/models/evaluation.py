"""A course's satisfaction survey (강좌 만족도 조사): its items, the anonymous responses, and who answered.

Who answered (``SurveyParticipation``) is kept apart from what was answered (``SurveyResponse`` and its
``SurveyAnswer`` rows), and nothing links the two: a response has a random id (no insertion order), only the
day it was submitted (no timestamp), and the participation has no id or time of its own. So neither a
teacher nor someone reading the database can tell which student gave which answer.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base, utcnow


class ItemKind(enum.StrEnum):
    rating = "rating"  # 1 (전혀 그렇지 않다) … 5 (매우 그렇다)
    text = "text"


class RespondentRole(enum.StrEnum):
    student = "student"
    parent = "parent"


class Survey(Base):
    """The one survey of a course: when it is open and who is asked."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), unique=True)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    include_parents: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[SurveyItem]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyItem.position"
    )


class SurveyItem(Base):
    """One question of a survey: a 1–5 rating or free text."""

    __tablename__ = "survey_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[ItemKind] = mapped_column(Enum(ItemKind, native_enum=False, length=20))
    prompt: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(default=True)

    survey: Mapped[Survey] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("survey_id", "position"),)


def _random_id() -> str:
    return uuid.uuid4().hex


class SurveyResponse(Base):
    """One anonymous response: the respondent's role and the day, nothing that names a person."""

    __tablename__ = "survey_response"

    # Random, so the order of responses (and of their answers) says nothing about who answered when.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_random_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    role: Mapped[RespondentRole] = mapped_column(Enum(RespondentRole, native_enum=False, length=20))
    submitted_on: Mapped[date] = mapped_column(Date)

    answers: Mapped[list[SurveyAnswer]] = relationship(cascade="all, delete-orphan")


class SurveyAnswer(Base):
    """A response's answer to one item: a rating 1–5 or a text (an optional item may have neither)."""

    __tablename__ = "survey_answer"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("survey_response.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("survey_item.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)


class SurveyParticipation(Base):
    """That a user answered a survey (once): no id, no time, no link to the response."""

    __tablename__ = "survey_participation"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
