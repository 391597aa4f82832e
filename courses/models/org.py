"""Organisations: office (교육청) → support office (교육지원청) → school → class (반) per school year."""

from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from courses.db import Base
from courses.labels import class_label


class OrgKind(enum.StrEnum):
    office = "office"
    support_office = "support_office"
    school = "school"


class SchoolLevel(enum.StrEnum):
    elementary = "elementary"
    middle = "middle"
    high = "high"
    special = "special"


class Organisation(Base):
    """An office, an education support office or a school; `office_id` is the top of its tree."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(Enum(OrgKind, native_enum=False, length=20))
    name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(64), unique=True)  # OneRoster sourcedId
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    school_level: Mapped[SchoolLevel | None] = mapped_column(Enum(SchoolLevel, native_enum=False, length=20))

    parent: Mapped[Organisation | None] = relationship(remote_side=[id], foreign_keys=[parent_id])

    __table_args__ = (Index("ix_organisation_kind_office", "kind", "office_id"),)

    def __repr__(self) -> str:
        return f"<Organisation {self.kind} {self.name}>"


class SchoolClass(Base):
    """A homeroom class (반) of one grade in one school year."""

    __tablename__ = "school_class"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    school_year: Mapped[int]
    grade: Mapped[int]
    name: Mapped[str] = mapped_column(String(60))
    code: Mapped[str | None] = mapped_column(String(64), unique=True)  # OneRoster sourcedId

    school: Mapped[Organisation] = relationship()

    __table_args__ = (
        UniqueConstraint("school_id", "school_year", "grade", "name"),
        Index("ix_school_class_school_grade", "school_id", "school_year", "grade"),
    )

    @property
    def label(self) -> str:
        """ "5학년 1반" in the reader's language."""
        return class_label(self.grade, self.name)
